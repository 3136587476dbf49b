"""Replay a price history through the live detector and rule validator (`pricehawk backtest`).

Rows arrive in any order; they are replayed in time order so that every cross-product signal
(a retailer's sale day, the same GTIN's price elsewhere) is exactly what was known then. Each
listing's history is kept incrementally and `assess` — the function the live `score` calls —
runs only when the price drops below the recent level by the minimum discount (the same
early exit `assess` itself takes first), which is what makes a million rows take seconds.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pricehawk.detection.config import DetectorConfig
from pricehawk.detection.models import Anomaly
from pricehawk.detection.score import assess
from pricehawk.detection.signatures import pack_count
from pricehawk.validation.rules import decide

REQUIRED = ("product_id", "observed_at", "price", "list_price", "currency", "gtin", "retailer")
# the discounted share of a retailer is measured over its last this many observations
SHARE_WINDOW = 300
# a product counts as discounted when this far below its slow-moving average
DISCOUNTED_BELOW = 0.85
EWMA_ALPHA = 0.05
PEER_MAX_AGE_S = 7 * 86400.0
_KEEP = 64  # history points kept per listing (the window never needs more than max_points)


class HistoryError(ValueError):
    """The history file cannot be read; the message names the line."""


@dataclass(frozen=True)
class Rows:
    """Parsed history, column-wise, in file order."""

    pid: list[str]
    at: list[float]
    at_text: list[str]
    price: list[float]
    list_price: list[float | None]
    currency: list[str]
    gtin: list[str]
    retailer: list[str]
    title: list[str]

    def __len__(self) -> int:
        return len(self.pid)


@dataclass(frozen=True)
class Finding:
    """One observation the pipeline would confirm as a glitch."""

    product_id: str
    observed_at: str
    epoch: float
    price: float
    anomaly: Anomaly

    def as_json(self) -> dict[str, object]:
        """The backtest's output line."""
        return {
            "product_id": self.product_id,
            "observed_at": self.observed_at,
            "price": self.price,
            "confidence": self.anomaly.confidence,
            "glitch_type": self.anomaly.glitch_type,
        }


def _epoch(text: str, line: int) -> float:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise HistoryError(f"line {line}: observed_at {text!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a naive time is taken as UTC
    return parsed.timestamp()


def read_rows(stream: IO[str]) -> Rows:
    """Parse a history CSV (extra columns are ignored; title is optional)."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise HistoryError("the history file is empty")
    cols = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise HistoryError(f"line 1: missing column(s) {', '.join(missing)}")
    ip, ia, ipr, il, ic, ig, ir = (cols[c] for c in REQUIRED)
    it = cols.get("title")
    rows = Rows([], [], [], [], [], [], [], [], [])
    epochs: dict[str, float] = {}
    for line, rec in enumerate(reader, start=2):
        if not rec:
            continue
        try:
            at = rec[ia]
            epoch = epochs.get(at)
            if epoch is None:
                epoch = epochs[at] = _epoch(at, line)
            price = float(rec[ipr])
            lp = rec[il]
            rows.list_price.append(float(lp) if lp else None)
        except (IndexError, ValueError) as exc:
            if isinstance(exc, HistoryError):
                raise
            raise HistoryError(f"line {line}: {exc}") from exc
        rows.pid.append(rec[ip])
        rows.at.append(epoch)
        rows.at_text.append(at)
        rows.price.append(price)
        rows.currency.append(rec[ic].upper())
        rows.gtin.append(rec[ig])
        rows.retailer.append(rec[ir])
        rows.title.append(rec[it] if it is not None and it < len(rec) else "")
    return rows


def read_history(path: str | Path) -> Rows:
    """Parse a history CSV file."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return read_rows(f)


class _Listing:
    __slots__ = ("ewma", "has_list", "lists", "pack", "prices", "times")

    def __init__(self, title: str) -> None:
        self.times: list[float] = []
        self.prices: list[float] = []
        self.lists: list[float | None] = []
        self.has_list = False
        self.ewma = 0.0
        self.pack = pack_count(title)


def replay(rows: Rows, config: DetectorConfig) -> Iterator[Finding]:
    """Every observation the detector flags and the rule validator confirms, in time order."""
    order = sorted(range(len(rows)), key=rows.at.__getitem__)
    listings: dict[str, _Listing] = {}
    shares: dict[str, tuple[deque[bool], list[int]]] = {}
    peers: dict[str, dict[str, tuple[float, float]]] = {}
    rates = config.rates
    gate = 1 - config.min_discount
    seen_tol = config.seen_tolerance
    min_history = config.min_history
    level_points = config.level_points
    pid_l, at_l, price_l, list_l = rows.pid, rows.at, rows.price, rows.list_price
    cur_l, gtin_l, ret_l, title_l = rows.currency, rows.gtin, rows.retailer, rows.title
    for i in order:
        pid = pid_l[i]
        t = at_l[i]
        price = price_l[i]
        retailer = ret_l[i]
        st = listings.get(pid)
        if st is None:
            st = listings[pid] = _Listing(title_l[i])
            st.ewma = price
        prices = st.prices
        n = len(prices)
        gtin = gtin_l[i]
        candidate = False
        if n >= min_history:
            if n >= 3 and level_points == 3:
                a, b, c = prices[-3], prices[-2], prices[-1]
                level = (a if b <= a <= c or c <= a <= b else b if a <= b <= c or c <= b <= a
                         else c)  # fmt: skip
            else:
                tail = sorted(prices[-level_points:])
                k = len(tail)
                level = tail[k // 2] if k % 2 else (tail[k // 2 - 1] + tail[k // 2]) / 2
            candidate = price <= gate * level and abs(prices[-1] - price) > seen_tol * price
        elif gtin and gtin in peers:
            candidate = True
        # the retailer's discounted share, before this observation is counted
        entry = shares.get(retailer)
        if entry is None:
            entry = shares[retailer] = (deque(), [0])
        flags, total = entry
        if candidate:
            usd = rates.get(cur_l[i]) or 1.0
            peer_prices: list[float] = []
            if gtin:
                for other, (pt, pv) in peers.get(gtin, {}).items():
                    if other != retailer and t - pt <= PEER_MAX_AGE_S:
                        peer_prices.append(pv / usd)
            lp = list_l[i]
            anomaly = assess(
                st.times,
                prices,
                t,
                price,
                currency=cur_l[i],
                list_price=lp,
                list_prices=st.lists if st.has_list else (),
                pack=st.pack,
                sale_share=total[0] / len(flags) if len(flags) >= 50 else None,
                peers=peer_prices,
                config=config,
            )
            if anomaly is not None and decide(anomaly.glitch_type, anomaly.confidence, config):
                yield Finding(pid, rows.at_text[i], t, price, anomaly)
        # update state
        discounted = price < DISCOUNTED_BELOW * st.ewma
        flags.append(discounted)
        total[0] += discounted
        if len(flags) > SHARE_WINDOW:
            total[0] -= flags.popleft()
        st.ewma += EWMA_ALPHA * (price - st.ewma)
        prices.append(price)
        st.times.append(t)
        lp = list_l[i]
        st.lists.append(lp)
        if lp is not None:
            st.has_list = True
        if n + 1 >= 2 * _KEEP:
            del prices[:_KEEP], st.times[:_KEEP], st.lists[:_KEEP]
        if gtin:
            by_retailer = peers.get(gtin)
            if by_retailer is None:
                by_retailer = peers[gtin] = {}
            by_retailer[retailer] = (t, price * (rates.get(cur_l[i]) or 1.0))


def iso_utc(epoch: float) -> str:
    """An epoch as ISO 8601 UTC (for messages)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def findings_of(paths: Iterable[str | Path], config: DetectorConfig) -> list[Finding]:
    """Convenience for tests and tools: replay several files as one history."""
    merged = Rows([], [], [], [], [], [], [], [], [])
    for path in paths:
        part = read_history(path)
        for name in Rows.__dataclass_fields__:
            getattr(merged, name).extend(getattr(part, name))
    return list(replay(merged, config))
