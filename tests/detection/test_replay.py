"""The vectorised backtest replays exactly what the live, one-row-at-a-time detector decides."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pricehawk.detection import MarketContext, PricePoint, ProductInfo, score
from pricehawk.detection.replay import (
    DISCOUNTED_BELOW,
    EWMA_ALPHA,
    PEER_MAX_AGE_S,
    SHARE_WINDOW,
    Rows,
    read_history,
    replay,
)
from pricehawk.detection.score import median
from pricehawk.detection.service import default_config
from pricehawk.detection.synth import SynthConfig, labels_path, write
from pricehawk.validation.rules import decide

CFG = default_config()


def _one_by_one(rows: Rows) -> list[tuple[str, float, str]]:
    """A plain reference: every row in time order through the live `score` (no first cut)."""
    order = sorted(range(len(rows)), key=rows.at.__getitem__)
    history: dict[str, list[PricePoint]] = {}
    ewma: dict[str, float] = {}
    flags: dict[str, deque[bool]] = {}
    latest: dict[str, dict[str, list[tuple[float, float]]]] = {}
    out = []
    for i in order:
        pid, t, price, retailer = rows.pid[i], rows.at[i], rows.price[i], rows.retailer[i]
        cur, gtin = rows.currency[i], rows.gtin[i]
        usd = CFG.rate(cur) or 1.0
        past = history.setdefault(pid, [])
        seen = flags.setdefault(retailer, deque(maxlen=SHARE_WINDOW))
        peers = tuple(
            Decimal(str(median([v for _, v in seen_there[-3:]]) / usd))
            for r, seen_there in latest.get(gtin, {}).items()
            if gtin and r != retailer and t - seen_there[-1][0] <= PEER_MAX_AGE_S
        )
        share = sum(seen) / len(seen) if len(seen) >= 50 else None
        lp = rows.list_price[i]
        new = PricePoint(
            datetime.fromtimestamp(t, UTC),
            Decimal(str(price)),
            Decimal(str(lp)) if lp is not None else None,
        )
        product = ProductInfo(1, retailer, cur, title=rows.title[i], gtin=gtin or None)
        market = MarketContext(retailer_discounted_share=share, peer_prices=peers)
        anomaly = score(past[-64:], new, product, market, config=CFG)
        if anomaly is not None and decide(anomaly.glitch_type, anomaly.confidence, CFG):
            out.append((pid, t, anomaly.glitch_type))
        before = ewma.get(pid, price)
        seen.append(price < DISCOUNTED_BELOW * before)
        ewma[pid] = before + EWMA_ALPHA * (price - before)
        past.append(new)
        if gtin:
            latest.setdefault(gtin, {}).setdefault(retailer, []).append((t, price * usd))
    return out


def test_replay_matches_the_live_detector_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    write(SynthConfig(listings=160, days=20, seed=7, glitch_rate=0.6), path, labels_path(path))
    rows = read_history(path)
    fast = [(f.product_id, f.epoch, f.anomaly.glitch_type) for f in replay(rows, CFG)]
    assert len(fast) >= 10, "the history holds glitches to compare"
    assert fast == _one_by_one(rows)


def test_backtest_on_an_empty_history_finds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("product_id,observed_at,price,list_price,currency,gtin,retailer\n")
    assert list(replay(read_history(path), CFG)) == []
