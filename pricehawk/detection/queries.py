"""SQL for anomalies."""

from __future__ import annotations

import json
from typing import Any

from pricehawk.detection.models import Anomaly
from pricehawk.prices.models import StoredObservation


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


def product_info(conn: Any, product_id: int) -> dict[str, Any]:
    row = conn.execute(
        """
        SELECT p.id, r.slug AS retailer, p.currency, p.title, p.gtin, p.category
        FROM products p JOIN retailers r ON r.id = p.retailer_id WHERE p.id = %s
        """,
        (product_id,),
    ).fetchone()
    return dict(row)
