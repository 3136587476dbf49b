"""SQL for detection: batched histories and market context, and anomalies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pricehawk.detection.models import Anomaly
from pricehawk.prices.models import StoredObservation

HISTORY_LIMIT = 200


def insert_anomaly(conn: Any, obs: StoredObservation, anomaly: Anomaly) -> int | None:
    """Record an anomaly once per observation; None when it was already recorded."""
    row = conn.execute(
        """
        INSERT INTO anomalies (product_id, observed_at, price, baseline, list_price, currency,
                               discount, confidence, glitch_type, scores, reasons)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (product_id, observed_at) DO NOTHING
        RETURNING id
        """,
        (
            obs.product_id,
            obs.observed_at,
            obs.price,
            anomaly.baseline,
            obs.list_price,
            obs.currency,
            anomaly.discount,
            anomaly.confidence,
            anomaly.glitch_type,
            json.dumps(dict(anomaly.scores)),
            list(anomaly.reasons),
        ),
    ).fetchone()
    return None if row is None else int(row["id"] if isinstance(row, dict) else row[0])


def histories(
    conn: Any, keys: Sequence[tuple[int, datetime]], limit: int = HISTORY_LIMIT
) -> dict[tuple[int, datetime], list[dict[str, Any]]]:
    """For each (product, time): its observations before that time, oldest first. One query."""
    if not keys:
        return {}
    rows = conn.execute(
        """
        SELECT o.product_id, o.before, h.observed_at, h.price, h.list_price, h.availability
        FROM unnest(%s::bigint[], %s::timestamptz[]) AS o(product_id, before)
        CROSS JOIN LATERAL (
            SELECT observed_at, price, list_price, availability FROM price_observations
            WHERE product_id = o.product_id AND observed_at < o.before
            ORDER BY observed_at DESC LIMIT %s) h
        """,
        ([k[0] for k in keys], [k[1] for k in keys], limit),
    ).fetchall()
    out: dict[tuple[int, datetime], list[dict[str, Any]]] = {k: [] for k in keys}
    for r in rows:
        out.setdefault((r["product_id"], r["before"]), []).append(r)
    for value in out.values():
        value.sort(key=lambda r: r["observed_at"])
    return out


def product_infos(conn: Any, product_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Retailer, title, GTIN... of each product. One query."""
    rows = conn.execute(
        """
        SELECT p.id, r.slug AS retailer, p.retailer_id, p.currency, p.title, p.gtin, p.category
        FROM products p JOIN retailers r ON r.id = p.retailer_id WHERE p.id = ANY(%s)
        """,
        (list(product_ids),),
    ).fetchall()
    return {int(r["id"]): dict(r) for r in rows}


def product_info(conn: Any, product_id: int) -> dict[str, Any]:
    """One product's info (see product_infos)."""
    return product_infos(conn, [product_id])[product_id]


def peer_prices(
    conn: Any, gtin: str, product_id: int, at: datetime, max_age_s: float
) -> list[tuple[float, str]]:
    """Price level (median of the last 3) and currency of the same GTIN at other retailers.

    Only listings seen within max_age_s of `at`; the median keeps a one-off error there
    from vetoing (or vouching for) ours.
    """
    rows = conn.execute(
        """
        SELECT p.id, min(o.currency) AS currency,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY o.price) AS price
        FROM products p
        JOIN products me ON me.id = %(pid)s
        CROSS JOIN LATERAL (
            SELECT price, currency, observed_at FROM price_observations
            WHERE product_id = p.id AND observed_at <= %(at)s
            ORDER BY observed_at DESC LIMIT 3) o
        WHERE p.gtin = %(gtin)s AND p.retailer_id <> me.retailer_id
        GROUP BY p.id
        HAVING max(o.observed_at) > %(at)s - make_interval(secs => %(age)s)
        """,
        {"pid": product_id, "gtin": gtin, "at": at, "age": max_age_s},
    ).fetchall()
    return [(float(r["price"]), str(r["currency"])) for r in rows]


def discounted_share(
    conn: Any, retailer_id: int, at: datetime, below: float, sample: int = 300
) -> float | None:
    """Share of the retailer's recently seen products priced below `below` x their 14-day mean.

    The sale-day signal; None when too few products were seen in the last 12 hours.
    """
    row = conn.execute(
        """
        WITH recent AS (
            SELECT DISTINCT ON (o.product_id) o.product_id, o.price
            FROM price_observations o JOIN products p ON p.id = o.product_id
            WHERE p.retailer_id = %(r)s AND o.observed_at <= %(at)s
              AND o.observed_at > %(at)s - interval '12 hours'
            ORDER BY o.product_id, o.observed_at DESC LIMIT %(n)s)
        SELECT count(*) AS n,
               avg((recent.price < %(below)s * m.mean)::int) AS share
        FROM recent CROSS JOIN LATERAL (
            SELECT avg(price) AS mean FROM price_observations
            WHERE product_id = recent.product_id
              AND observed_at > %(at)s - interval '14 days' AND observed_at <= %(at)s) m
        """,
        {"r": retailer_id, "at": at, "n": sample, "below": below},
    ).fetchone()
    if row is None or row["n"] < 20 or row["share"] is None:
        return None
    return float(row["share"])
