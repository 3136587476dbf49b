"""Generate the console benchmark's data set into a throwaway database, with COPY.

Shape (defaults): 5 retailers, 50,000 products, 10,000,000 price observations (200 per
product, one every 15 minutes: ~50 hours of crawling), 14,400 crawl runs (30 days of 15-minute
cycles), 100,000 anomalies over 30 days (20,000 of them glitches), 20,000 users, 400,000 outbox
rows, 5,000 subscriptions and 20,000 audit rows.

Usage: console_dataset.py URL [--observations N]   (the database must be migrated)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RETAILERS = ("acme", "globex", "initech", "umbrella", "hooli")
PER_PRODUCT = 200
STEP = timedelta(minutes=15)


def _copy(conn: Any, sql: str, rows: Any) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def generate(url: str, *, observations: int = 10_000_000, seed: int = 7) -> dict[str, int]:
    """Fill a migrated, empty database; return row counts per table."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    products = max(1, observations // PER_PRODUCT)
    counts: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        counts["retailers"] = _copy(
            conn,
            "COPY retailers (id, slug, name, crawl_interval_s) FROM STDIN",
            ((i + 1, s, s.title(), 900) for i, s in enumerate(RETAILERS)),
        )
        conn.execute("SELECT setval('retailers_id_seq', %s)", (len(RETAILERS),))
        base = [rng.uniform(5, 2000) for _ in range(products)]
        counts["products"] = _copy(
            conn,
            """COPY products (id, retailer_id, url, title, currency, last_price,
                              last_observed_at, last_fetch_error) FROM STDIN""",
            (
                (
                    p + 1,
                    p % len(RETAILERS) + 1,
                    f"https://{RETAILERS[p % len(RETAILERS)]}.test/p/{p}",
                    f"Product {p}",
                    "USD",
                    round(base[p], 2),
                    now,
                    "HTTP 503" if p % 97 == 0 else None,
                )
                for p in range(products)
            ),
        )
        conn.execute("SELECT setval('products_id_seq', %s)", (products,))
        start = now - STEP * PER_PRODUCT

        def observation_rows() -> Any:
            for k in range(PER_PRODUCT):
                at = start + STEP * (k + 1)
                for p in range(products):
                    yield (p + 1, at, round(base[p] * rng.uniform(0.97, 1.03), 2), "USD")

        t = time.perf_counter()
        counts["price_observations"] = _copy(
            conn,
            "COPY price_observations (product_id, observed_at, price, currency) FROM STDIN",
            observation_rows(),
        )
        print(f"  observations copied in {time.perf_counter() - t:.0f} s", flush=True)

        runs = []
        for r in range(len(RETAILERS)):
            for k in range(30 * 96):
                started = now - STEP * k
                failed = rng.random() < 0.05
                pages = rng.randint(800, 2400)
                blocked = int(pages * rng.uniform(0, 0.08))
                failures = {"http_403": blocked, "timeout": rng.randint(0, 5)}
                stats = {"proxy/ok": pages - blocked, "proxy/banned": rng.randint(0, 3)}
                runs.append((r + 1, "catalog", f"c{k}", started, started + timedelta(minutes=4),
                             "failed" if failed else "finished", pages, int(pages * 0.9),
                             blocked, json.dumps(failures), json.dumps(stats)))  # fmt: skip
        counts["crawl_runs"] = _copy(
            conn,
            """COPY crawl_runs (retailer_id, spider, cycle_key, started_at, finished_at, status,
                                pages, items, blocked, failures, stats) FROM STDIN""",
            runs,
        )
        n_anomalies = observations // 100
        statuses = ("confirmed", "rejected", "rejected", "rejected", "rejected")
        anomalies = []
        for i in range(n_anomalies):
            created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            status = "new" if i < 20 else statuses[i % 5]
            observed = created - timedelta(seconds=30) - STEP * (i // products)
            anomalies.append((i + 1, i % products + 1, observed, 1.0, 10.0, "USD", 0.9, 0.8,
                              "extreme_discount", json.dumps({"robust_z": 40.0, "discount": 0.9}),
                              status, created))  # fmt: skip
        counts["anomalies"] = _copy(
            conn,
            """COPY anomalies (id, product_id, observed_at, price, baseline, currency, discount,
                               confidence, glitch_type, scores, status, created_at) FROM STDIN""",
            anomalies,
        )
        glitches = [
            (a[0], a[0], a[1], 1.0, "USD", a[2], 0.9, "extreme_discount", "rules", a[11],
             a[11] + timedelta(seconds=2))
            for a in anomalies if a[10] == "confirmed"
        ]  # fmt: skip
        counts["glitches"] = _copy(
            conn,
            """COPY glitches (id, anomaly_id, product_id, price, currency, observed_at,
                              confidence, glitch_type, validator, validated_at, fanned_out_at)
               FROM STDIN""",
            glitches,
        )
        users = 20_000
        tiers = ("free", "free", "free", "starter", "pro", "elite")
        counts["users"] = _copy(
            conn,
            "COPY users (id, email, tier) FROM STDIN",
            ((u + 1, f"user{u}@example.org", tiers[u % len(tiers)]) for u in range(users)),
        )
        conn.execute("SELECT setval('users_id_seq', %s)", (users,))
        counts["subscriptions"] = _copy(
            conn,
            "COPY subscriptions (user_id, tier, billing_cycle, status, updated_at) FROM STDIN",
            ((u + 1, ("starter", "pro", "elite")[u % 3], ("monthly", "annual")[u % 2],
              ("active", "active", "active", "past_due", "canceled")[u % 5], now)
             for u in range(5000)),
        )  # fmt: skip

        def outbox_rows() -> Any:
            per = 400_000 // max(1, len(glitches))
            for g in glitches:
                for j in range(per):
                    user = (g[0] * 31 + j) % users + 1
                    tier = tiers[(user - 1) % len(tiers)]
                    due = g[9] + timedelta(hours={"free": 72, "starter": 24}.get(tier, 0))
                    status = "sent" if due < now else "pending"
                    if j == 0 and g[0] % 50 == 0:
                        status = ("dead", "review", "failed")[g[0] % 3]
                    sent = due + timedelta(seconds=3) if status == "sent" else None
                    yield (g[0], user, "email", tier, due, status, sent, g[9])

        counts["notification_outbox"] = _copy(
            conn,
            """COPY notification_outbox (glitch_id, user_id, channel, tier, due_at, status,
                                         sent_at, created_at) FROM STDIN""",
            outbox_rows(),
        )
        counts["audit_log"] = _copy(
            conn,
            "COPY audit_log (actor, action, target, after, at) FROM STDIN",
            (("operator:alice", "anomaly.reject", f"anomaly:{i % n_anomalies + 1}",
              json.dumps({"note": "x"}), now - timedelta(seconds=i * 60)) for i in range(20_000)),
        )  # fmt: skip
        conn.execute("VACUUM ANALYZE")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--observations", type=int, default=10_000_000)
    args = parser.parse_args()
    print(generate(args.url, observations=args.observations))


if __name__ == "__main__":
    main()
