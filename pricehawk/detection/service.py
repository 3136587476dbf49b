"""Flag new observations: load histories, score, record anomalies, announce them.

Called by the crawler's item pipeline inside its write transaction, so it is batched: one
query for every observation's history and one for product info; market context (peers of
the same GTIN, the retailer's sale-day share) only for the few observations that pass the
detector's first cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pricehawk.detection.config import DetectorConfig
from pricehawk.detection.models import MarketContext, PricePoint, ProductInfo
from pricehawk.detection.queries import (
    discounted_share,
    histories,
    insert_anomaly,
    peer_prices,
    product_infos,
)
from pricehawk.detection.replay import DISCOUNTED_BELOW, PEER_MAX_AGE_S
from pricehawk.detection.score import recent_level, score
from pricehawk.prices.models import StoredObservation
from pricehawk.settings import SETTINGS, parse_pairs

# Postgres NOTIFY channel the worker LISTENs on (payload: the anomaly id).
ANOMALY_CHANNEL = "pricehawk_anomalies"


def default_config() -> DetectorConfig:
    """Detector defaults with the default currency rates (callers with settings pass theirs)."""
    raw = next(s.default for s in SETTINGS if s.env == "PRICEHAWK_CURRENCY_RATES")
    rates = {k: float(v) for k, v in parse_pairs(raw, "PRICEHAWK_CURRENCY_RATES").items()}
    return DetectorConfig(rates=rates)


def config_for(rates: Any) -> DetectorConfig:
    """Detector defaults with these currency rates (Settings.currency_rates)."""
    return DetectorConfig(rates={k.upper(): float(v) for k, v in dict(rates).items()})


def _passes_first_cut(
    history: list[PricePoint], obs: StoredObservation, cfg: DetectorConfig
) -> bool:
    if not history:
        return True  # only peers can speak for a first observation
    level = recent_level([float(p.price) for p in history], cfg.level_points)
    return float(obs.price) <= (1 - cfg.min_discount) * level


def flag_observations(
    conn: Any,
    observations: Sequence[StoredObservation],
    *,
    config: DetectorConfig | None = None,
) -> list[int]:
    """Score each new observation; record and NOTIFY anomalies. Returns the new anomaly ids.

    Runs inside the caller's transaction, so the NOTIFY is delivered only if the
    observation and anomaly are committed.
    """
    if not observations:
        return []
    cfg = config or default_config()
    keys = [(o.product_id, o.observed_at) for o in observations]
    hist = histories(conn, keys)
    infos = product_infos(conn, sorted({o.product_id for o in observations}))
    shares: dict[int, float | None] = {}
    ids: list[int] = []
    for obs in observations:
        info = infos.get(obs.product_id)
        if info is None:
            continue
        history = [
            PricePoint(r["observed_at"], r["price"], r["list_price"], r["availability"])
            for r in hist.get((obs.product_id, obs.observed_at), [])
        ]
        if not _passes_first_cut(history, obs, cfg):
            continue
        peers: tuple[Decimal, ...] = ()
        if info["gtin"]:
            own = cfg.rate(obs.currency) or 1.0
            peers = tuple(
                Decimal(str(round(p * (cfg.rate(c) or 1.0) / own, 4)))
                for p, c in peer_prices(conn, info["gtin"], obs.product_id, obs.observed_at,
                                        PEER_MAX_AGE_S)
            )  # fmt: skip
        if not history and not peers:
            continue
        rid = int(info["retailer_id"])
        if rid not in shares:
            shares[rid] = discounted_share(conn, rid, obs.observed_at, DISCOUNTED_BELOW)
        product = ProductInfo(
            product_id=obs.product_id,
            retailer=info["retailer"],
            currency=obs.currency,
            title=info["title"],
            gtin=info["gtin"],
            category=info["category"],
        )
        new = PricePoint(obs.observed_at, obs.price, obs.list_price, obs.availability)
        market = MarketContext(retailer_discounted_share=shares[rid], peer_prices=peers)
        anomaly = score(history, new, product, market, config=cfg)
        if anomaly is None:
            continue
        anomaly_id = insert_anomaly(conn, obs, anomaly)
        if anomaly_id is not None:
            conn.execute("SELECT pg_notify(%s, %s)", (ANOMALY_CHANNEL, str(anomaly_id)))
            ids.append(anomaly_id)
    return ids
