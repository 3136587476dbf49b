"""Flag new observations: load history, score, record anomalies, announce them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pricehawk.detection.models import PricePoint, ProductInfo
from pricehawk.detection.queries import insert_anomaly, product_info
from pricehawk.detection.score import score
from pricehawk.prices.models import StoredObservation
from pricehawk.prices.queries import price_history

# Postgres NOTIFY channel the worker LISTENs on (payload: the anomaly id).
ANOMALY_CHANNEL = "pricehawk_anomalies"


def flag_observations(conn: Any, observations: Sequence[StoredObservation]) -> list[int]:
    """Score each new observation; record and NOTIFY anomalies. Returns the new anomaly ids.

    Runs inside the caller's transaction, so the NOTIFY is delivered only if the
    observation and anomaly are committed.
    """
    ids: list[int] = []
    for obs in observations:
        history = [
            PricePoint(r["observed_at"], r["price"], r["list_price"], r["availability"])
            for r in price_history(conn, obs.product_id, obs.observed_at)
        ]
        info = product_info(conn, obs.product_id)
        product = ProductInfo(
            product_id=obs.product_id,
            retailer=info["retailer"],
            currency=obs.currency,
            title=info["title"],
            gtin=info["gtin"],
            category=info["category"],
        )
        new = PricePoint(obs.observed_at, obs.price, obs.list_price, obs.availability)
        anomaly = score(history, new, product)
        if anomaly is None:
            continue
        anomaly_id = insert_anomaly(conn, obs, anomaly)
        if anomaly_id is not None:
            conn.execute("SELECT pg_notify(%s, %s)", (ANOMALY_CHANNEL, str(anomaly_id)))
            ids.append(anomaly_id)
    return ids
