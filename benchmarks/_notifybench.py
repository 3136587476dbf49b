"""Shared set-up of the notification benchmarks: a throwaway database and seeded subscribers."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import bench_database  # noqa: E402, F401 - re-exported for the benchmarks


def seed_product(conn: Any, slug: str = "shop", category: str = "electronics") -> int:
    conn.execute(
        "INSERT INTO retailers (slug, name) VALUES (%s, %s) ON CONFLICT (slug) DO NOTHING",
        (slug, slug.title()),
    )
    row = conn.execute(
        """INSERT INTO products (retailer_id, url, title, category, currency, last_price,
                                 availability, last_observed_at)
           SELECT id, %s, 'Bench gadget', %s, 'USD', 10, 'in_stock', now()
           FROM retailers WHERE slug = %s RETURNING id""",
        (f"https://{slug}.test/p/{uuid.uuid4().hex[:10]}", category, slug),
    ).fetchone()
    return int(row[0] if not isinstance(row, dict) else row["id"])


def seed_glitch(conn: Any, product_id: int, validated_at: str = "now()") -> int:
    row = conn.execute(
        """WITH a AS (
               INSERT INTO anomalies (product_id, observed_at, price, baseline, currency,
                                      confidence, glitch_type, status)
               VALUES (%s, clock_timestamp(), 10, 100, 'USD', 0.9, 'decimal_error', 'confirmed')
               RETURNING id, observed_at)
           INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency, observed_at,
                                 confidence, glitch_type, validator, validated_at)
           SELECT a.id, %s, 10, 100, 'USD', a.observed_at, 0.9, 'decimal_error', 'rules', """
        + validated_at
        + " FROM a RETURNING id",
        (product_id, product_id),
    ).fetchone()
    return int(row[0] if not isinstance(row, dict) else row["id"])


def seed_subscribers(conn: Any, n: int, *, channel_sql: str) -> None:
    """`n` subscribers across the tiers with realistic preferences that all match the seeded
    glitch (so fan-out writes a row for each), and their channels (`channel_sql` selects
    (user_id, kind, address) from the new users `u`)."""
    conn.execute(
        """INSERT INTO users (email, tier, timezone, markup_pct, email_verified_at)
           SELECT 'bench' || i || '@example.test',
                  (ARRAY['free', 'starter', 'pro', 'elite'])[1 + i %% 4],
                  (ARRAY['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Bad/Zone'])
                      [1 + i %% 5],
                  (i %% 30)::numeric, now()
           FROM generate_series(1, %s) AS i""",
        (n,),
    )
    conn.execute(
        """INSERT INTO notification_preferences (user_id, retailers, categories, min_price,
               max_price, min_discount_pct, min_margin_pct, quiet_start, quiet_end, daily_cap)
           SELECT id,
                  CASE WHEN id % 3 = 0 THEN ARRAY['shop', 'other'] ELSE '{}' END,
                  CASE WHEN id % 4 = 0 THEN ARRAY['electronics'] ELSE '{}' END,
                  CASE WHEN id % 5 = 0 THEN 1 END,
                  CASE WHEN id % 6 = 0 THEN 500 END,
                  (id % 80)::numeric,
                  CASE WHEN id % 7 = 0 THEN 100 END,
                  CASE WHEN id % 3 = 1 THEN time '22:00' END,
                  CASE WHEN id % 3 = 1 THEN time '07:00' END,
                  CASE WHEN id % 5 = 2 THEN 1000 END
           FROM users"""
    )
    conn.execute(
        "INSERT INTO notification_channels (user_id, kind, address, verified_at) "
        f"SELECT user_id, kind, address, now() FROM ({channel_sql}) AS c"
    )
    conn.execute("ANALYZE")
