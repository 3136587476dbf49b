"""Replay a price history through the live detector and rule validator (`pricehawk backtest`).

Rows arrive in any order; they are replayed in time order so that every cross-product signal
(a retailer's sale day, the same GTIN's price elsewhere) is exactly what was known then. Each
listing's history is kept incrementally and `assess` — the function the live `score` calls —
runs only when the price drops below the recent level by the minimum discount (the same
early exit `assess` itself takes first), which is what makes a million rows take seconds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from pricehawk.detection.config import DetectorConfig
from pricehawk.detection.models import Anomaly
from pricehawk.detection.score import PEER_BONUS, assess, median
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


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer codes for strings (first seen, first code) and the strings by code."""
    names = list(dict.fromkeys(values))
    table = {name: i for i, name in enumerate(names)}
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values)), names


def replay(rows: Rows, config: DetectorConfig) -> Iterator[Finding]:
    """Every observation the detector flags and the rule validator confirms, in time order.

    Vectorised in numpy: the time order, each listing's previous prices, the retailer's
    discounted share and the detector's first cut (a drop of at least `min_discount` below
    the recent level, or a first sighting of a GTIN) for every row at once; only the few
    rows past that cut go through `assess` with their listing's history and the market
    (other retailers' latest price of the GTIN) as of that moment.
    """
    n = len(rows)
    if n == 0:
        return
    at = np.asarray(rows.at, dtype=np.float64)
    price = np.asarray(rows.price, dtype=np.float64)
    pid, _ = _codes(rows.pid)
    ret, _ = _codes(rows.retailer)
    gtin, gtins = _codes(rows.gtin)
    cur, currencies = _codes(rows.currency)
    usd_of = np.array([config.rates.get(c) or 1.0 for c in currencies])[cur]
    has_gtin = np.array([bool(g) for g in gtins])[gtin]

    order = np.argsort(at, kind="stable")  # replay order; ties keep file order
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    # each listing's rows in replay order, and each row's place in its listing
    by_listing = np.lexsort((rank, pid))
    lp_sorted = pid[by_listing]
    first = np.ones(n, dtype=bool)
    first[1:] = lp_sorted[1:] != lp_sorted[:-1]
    starts = np.flatnonzero(first)
    start_of = np.repeat(starts, np.diff(np.append(starts, n)))
    k = np.arange(n) - start_of  # observations of the listing before this one
    ps = price[by_listing]

    def prev(j: int) -> np.ndarray:
        out = np.full(n, np.nan)
        out[j:] = ps[:-j]
        return out

    p1, p2, p3 = prev(1), prev(2), prev(3)
    level = np.where(
        k >= 3,
        np.maximum(np.minimum(p1, p2), np.minimum(np.maximum(p1, p2), p3)),
        np.where(k == 2, (p1 + p2) / 2, p1),
    )
    if config.level_points != 3:
        level = _levels(ps, k, config.level_points)
    with np.errstate(invalid="ignore"):
        drop = (
            (k >= config.min_history)
            & (ps <= (1 - config.min_discount) * level)
            & (np.abs(p1 - ps) > config.seen_tolerance * ps)
            & (ps > 0)
            & (
                ((level - ps) * usd_of[by_listing] >= config.min_saving_usd)
                # a page this new is judged against the market first (see `assess`)
                | ((k < config.min_window_points) & has_gtin[by_listing])
            )
        )
    new_gtin = (k < config.min_history) & has_gtin[by_listing]
    candidate_sorted = drop | new_gtin

    # the retailer's discounted share over its previous SHARE_WINDOW observations
    ewma_before = _ewma_before(ps, k, EWMA_ALPHA)
    discounted = np.empty(n, dtype=bool)
    discounted[by_listing] = ps < DISCOUNTED_BELOW * ewma_before
    share = _shares(ret[order], discounted[order])  # in replay order

    cand = by_listing[candidate_sorted]  # row indices
    cand = cand[np.argsort(rank[cand], kind="stable")]
    pos_in_listing = np.empty(n, dtype=np.int64)
    pos_in_listing[by_listing] = np.arange(n)
    peers = _PeerIndex(rank, ret, gtin, price * usd_of, at, has_gtin)
    times_s = at[by_listing]
    lists_all = rows.list_price
    # list prices in listing order, 0.0 where the page showed none (falsy, like None)
    lp_s = np.fromiter((lp or 0.0 for lp in lists_all), dtype=np.float64, count=n)[by_listing]
    listed_here = (lp_s > 0).astype(np.int64)
    known_before: np.ndarray = np.cumsum(listed_here) - listed_here
    has_list: np.ndarray = known_before - known_before[start_of] > 0  # any earlier row had one
    # everything the loop needs per candidate, gathered once as plain Python values
    js = pos_in_listing[cand]
    starts_c = np.maximum(start_of[js], js - _KEEP)
    shares_c = share[rank[cand]]
    peer_first = (k[js] >= config.min_window_points) & has_gtin[cand]
    packs: dict[int, int | None] = {}
    confirm = config.confirm_confidence
    for i, j, s, sh, gt, first_cut, listed, pc in zip(
        cand.tolist(),
        js.tolist(),
        starts_c.tolist(),
        shares_c.tolist(),
        has_gtin[cand].tolist(),
        peer_first.tolist(),
        has_list[js].tolist(),
        pid[cand].tolist(),
        strict=True,
    ):
        if pc not in packs:
            packs[pc] = pack_count(rows.title[i])
        history = (times_s[s:j].tolist(), ps[s:j].tolist(), float(at[i]), float(price[i]))
        args: dict[str, Any] = {
            "currency": rows.currency[i],
            "list_price": lists_all[i],
            "list_prices": lp_s[s:j].tolist() if listed else (),
            "pack": packs[pc],
            "sale_share": None if sh != sh else sh,  # NaN: too few observations yet
            "config": config,
        }
        anomaly = None
        if first_cut:
            # other retailers' prices add at most PEER_BONUS to an anomaly's confidence: look
            # them up only for an anomaly they could lift to a confirmation
            anomaly = assess(*history, **args)
            if anomaly is None or anomaly.confidence + PEER_BONUS < confirm:
                continue
        if gt:
            usd = float(usd_of[i])
            peer_prices = [v / usd for v in peers.latest(i, PEER_MAX_AGE_S)]
            anomaly = assess(*history, peers=peer_prices, **args)
        elif j > s:  # a first sighting without a GTIN has nothing to be measured against
            anomaly = assess(*history, **args)
        if anomaly is not None and decide(anomaly.glitch_type, anomaly.confidence, config):
            yield Finding(rows.pid[i], rows.at_text[i], float(at[i]), float(price[i]), anomaly)


def _levels(ps: np.ndarray, k: np.ndarray, points: int) -> np.ndarray:
    """Median of each row's previous `points` prices in its listing (any `level_points`)."""
    n = len(ps)
    out = np.full(n, np.nan)
    for j in np.flatnonzero(k > 0).tolist():
        lo = j - min(points, int(k[j]))
        out[j] = float(np.median(ps[lo:j]))
    return out


def _ewma_before(ps: np.ndarray, k: np.ndarray, alpha: float) -> np.ndarray:
    """Each row's listing EWMA before the row is counted (its own price for a first row).

    Rows are listing-contiguous; the recursion runs once per position in a listing, over
    every listing at once.
    """
    out = ps.copy()
    after = ps.copy()  # the EWMA once the row is counted
    later = np.flatnonzero(k > 0)
    if len(later) == 0:
        return out
    sort = np.argsort(k[later], kind="stable")
    later = later[sort]
    bounds = np.flatnonzero(np.diff(k[later])) + 1
    for idx in np.split(later, bounds):
        before = after[idx - 1]
        out[idx] = before
        after[idx] = before + alpha * (ps[idx] - before)
    return out


def _shares(ret: np.ndarray, discounted: np.ndarray) -> np.ndarray:
    """Per row (replay order): discounted share of the retailer's previous SHARE_WINDOW rows."""
    n = len(ret)
    out = np.full(n, np.nan)
    by_ret = np.argsort(ret, kind="stable")
    r_sorted = ret[by_ret]
    d = discounted[by_ret].astype(np.int64)
    bounds = np.flatnonzero(np.diff(r_sorted)) + 1
    for idx, flags in zip(np.split(np.arange(n), bounds), np.split(d, bounds), strict=True):
        cum = np.concatenate(([0], np.cumsum(flags)))
        m = len(flags)
        j = np.arange(m)
        lo = np.maximum(0, j - SHARE_WINDOW)
        counts = j - lo
        vals = (cum[j] - cum[lo]) / np.maximum(counts, 1)
        vals[counts < 50] = np.nan
        out[by_ret[idx]] = vals
    return out


class _PeerIndex:
    """A GTIN's USD price level at each other retailer, as of a row's replay rank."""

    def __init__(
        self,
        rank: np.ndarray,
        ret: np.ndarray,
        gtin: np.ndarray,
        usd_price: np.ndarray,
        at: np.ndarray,
        has_gtin: np.ndarray,
    ) -> None:
        rows = np.flatnonzero(has_gtin)
        self.width = int(ret.max()) + 1 if len(ret) else 1
        keys = gtin[rows] * self.width + ret[rows]
        sort = np.lexsort((rank[rows], keys))
        self.rows = rows[sort]
        self.keys = keys[sort]
        self.sorted_rank = rank[self.rows]
        self.rank, self.ret, self.gtin = rank, ret, gtin
        self.usd, self.at = usd_price, at

    def latest(self, i: int, max_age: float) -> list[float]:
        """Levels (USD) of row i's GTIN at other retailers seen within max_age before it."""
        out: list[float] = []
        g, own, r, t = int(self.gtin[i]), int(self.ret[i]), int(self.rank[i]), float(self.at[i])
        keys = self.keys
        lo = int(np.searchsorted(keys, g * self.width))
        hi = int(np.searchsorted(keys, (g + 1) * self.width))
        while lo < hi:
            key = int(keys[lo])
            end = int(np.searchsorted(keys, key + 1, side="left"))
            if key - g * self.width != own:
                j = lo + int(np.searchsorted(self.sorted_rank[lo:end], r)) - 1
                if j >= lo and t - float(self.at[int(self.rows[j])]) <= max_age:
                    # that retailer's level (median of its last 3), not a one-off error there
                    last3 = [float(self.usd[int(x)]) for x in self.rows[max(lo, j - 2) : j + 1]]
                    out.append(median(last3))
            lo = end
        return out


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
