"""A labelled synthetic price history that is hard on purpose (`pricehawk synth`).

Listings (a product at a retailer; the same GTIN at several retailers, in several currencies)
are crawled on irregular schedules with retailer outages and per-listing gaps. Their prices
carry everything that fools a naive detector — site-wide sale days with doorbusters,
lightning deals of 40-65%, clearance ramps, launch prices that settle, marketplace jitter,
a page flipping between two variants' prices, permanent reprices, market-wide drops of one
GTIN, inflated list prices, installment figures scraped as the price, cent moves — and the
glitches we must catch: decimal slips, dropped and swapped digits, unit prices of packs,
another currency's number, extreme errors, and errors on brand-new listings.

Every observation is labelled (`normal`, a hard-negative kind, or a glitch kind with its
event id) in a separate labels file, so `pricehawk backtest` never sees the answers.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

GLITCH_KINDS = (
    "decimal_slip_10",
    "decimal_slip_100",
    "dropped_digit",
    "swapped_digits",
    "unit_price",
    "wrong_currency",
    "extreme_discount",
    "new_listing_error",
)
NEGATIVE_KINDS = (
    "sale_day",
    "lightning_deal",
    "clearance",
    "launch_settle",
    "marketplace_jitter",
    "variant_flipflop",
    "permanent_reprice",
    "market_drop",
    "installment_scrape",
)

# A planted error that nobody could tell from the data at that moment (see `_tellable`): kept in
# the history, labelled with this, and counted neither as a miss nor as a false alarm.
UNVERIFIABLE = "unverifiable_error"
# Pay-in-N offers whose per-month figure a scraper may read as the price.
INSTALLMENTS = (3, 4, 6, 12, 24, 36)
# Currencies priced in whole units (no cents on the page).
ZERO_DECIMAL = frozenset({"JPY", "CLP", "KRW"})
# Shelf prices are this far apart per currency (x.99 each dollar; ¥10; $1,000 CLP).
PRICE_STEP = {"JPY": 10.0, "CLP": 1000.0, "MXN": 10.0}
DEAL_BAND = 0.25
EDIT_CANDIDATES = 80.0
# Depth below everything the page recently showed that no ordinary move reaches here alone.
TELLABLE_DEPTH = 0.8

# Another retailer's price for the same GTIN is evidence for this long (the backtest's peers).
PEER_WINDOW_S = 7 * 86400.0

HISTORY_COLUMNS = ("product_id", "observed_at", "price", "list_price", "currency", "gtin",
                   "retailer", "title")  # fmt: skip
LABEL_COLUMNS = ("product_id", "observed_at", "label", "event_id")


@dataclass(frozen=True)
class RetailerSpec:
    slug: str
    currency: str
    usd_rate: float
    interval_h: float
    utc_offset_h: int
    marketplace: bool = False


RETAILERS = (
    RetailerSpec("megamart", "USD", 1.0, 3.0, -5),
    RetailerSpec("shopfast", "USD", 1.0, 6.0, 0),
    RetailerSpec("bazaar", "USD", 1.0, 4.0, 0, marketplace=True),
    RetailerSpec("eurostore", "EUR", 1.08, 5.0, 1),
    RetailerSpec("britbuy", "GBP", 1.27, 8.0, 0),
    RetailerSpec("nihonden", "JPY", 0.0067, 6.0, 9),
    RetailerSpec("mercadito", "MXN", 0.058, 8.0, -6),
    RetailerSpec("andesmart", "CLP", 0.00106, 12.0, -4),
)

NOUNS = ("Laptop", "Headphones", "Espresso Machine", "Monitor", "Camera", "Blender",
         "Drill", "Smartwatch", "Tablet", "Speaker", "Vacuum", "Air Fryer", "Router",
         "Keyboard")  # fmt: skip
CONSUMABLES = ("Coffee Pods", "AA Batteries", "Printer Ink", "Protein Bars", "Dish Tabs",
               "Razor Blades", "Water Filters", "Paper Towels")  # fmt: skip
PACKS = (2, 3, 4, 6, 8, 12, 24)


@dataclass(frozen=True)
class SynthConfig:
    listings: int = 3000
    days: float = 60.0
    seed: int = 1
    glitch_rate: float = 0.12  # glitch events per listing over the period
    start: datetime = datetime(2025, 3, 1, tzinfo=UTC)


@dataclass
class _Listing:
    pid: int
    retailer: RetailerSpec
    gtin: str
    title: str
    pack: int | None
    base_usd: float
    list_mode: str  # none | honest | inflated
    list_factor: float
    born: float
    jitter: float
    steps: list[tuple[float, float, str]] = field(default_factory=list)  # (t, factor, label)
    windows: list[tuple[float, float, str, float, str]] = field(default_factory=list)


def charm(value: float, currency: str) -> float:
    """A plausible shelf price near `value` in `currency` (x.99, ¥x,980, $x,990 CLP...)."""
    if currency == "JPY":
        return float(max(100, round(value / 10) * 10 - (20 if value > 1000 else 0)))
    if currency == "CLP":
        return float(max(990, round(value / 1000) * 1000 - 10))
    if currency in ("MXN", "INR"):
        return float(max(9, round(value) // 10 * 10 + 9))
    if value >= 100:
        return round(value) - 0.01
    return math.floor(value) + 0.99 if value >= 5 else round(value, 2)


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _gtin(rng: random.Random) -> str:
    return str(rng.randint(10**12, 10**13 - 1))


_Obs = tuple[float, tuple[str, ...], tuple[str, ...]]  # (epoch, history row, label row)


def generate(cfg: SynthConfig) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(history row, label row) for every observation, grouped by listing."""
    rng = random.Random(cfg.seed)
    t0 = cfg.start.timestamp()
    span = cfg.days * 86400.0
    listings = _make_listings(rng, cfg, t0, span)
    _plant_market_events(rng, listings, t0, span)
    sale_days = {r.slug: _sale_days(rng, t0, span) for r in RETAILERS}
    outages = {r.slug: _outages(rng, t0, span) for r in RETAILERS}
    counts: dict[str, int] = {}
    for listing in listings:
        if listing.gtin:
            counts[listing.gtin] = counts.get(listing.gtin, 0) + 1
    shared = {g for g, c in counts.items() if c > 1}
    observed = [
        list(_observe(rng, cfg, listing, sale_days[listing.retailer.slug],
                      outages[listing.retailer.slug], t0, span, shared))
        for listing in listings
    ]  # fmt: skip
    _peer_checked(listings, observed)
    for rows in observed:
        for _, hrow, lrow in rows:
            yield hrow, lrow


def _peer_checked(listings: list[_Listing], observed: list[list[_Obs]]) -> None:
    """Relabel new-listing errors no other retailer's recent price could expose.

    A brand-new listing has no history of its own: only the same GTIN crawled elsewhere in
    the week before at its regular price, as far above this one as no deal goes, tells it
    is an error.
    """
    by_gtin: dict[str, list[tuple[float, int, float]]] = {}
    for k, (li, rows) in enumerate(zip(listings, observed, strict=True)):
        if li.gtin:
            by_gtin.setdefault(li.gtin, []).extend(
                (t, k, float(hrow[2]) * li.retailer.usd_rate)
                for t, hrow, lrow in rows
                if lrow[2] in ("normal", "permanent_reprice", "marketplace_jitter")
            )
    for k, (li, rows) in enumerate(zip(listings, observed, strict=True)):
        for j, (t, hrow, lrow) in enumerate(rows):
            if lrow[2] != "new_listing_error":
                continue
            latest: dict[int, tuple[float, float]] = {}
            for pt, other, usd in by_gtin.get(li.gtin, ()):
                fresh = other != k and t - PEER_WINDOW_S <= pt < t
                if fresh and (other not in latest or latest[other][0] < pt):
                    latest[other] = (pt, usd)
            market = sorted(usd for _, usd in latest.values())
            value = float(hrow[2]) * li.retailer.usd_rate
            if not market or value > (1 - TELLABLE_DEPTH) * market[len(market) // 2]:
                rows[j] = (t, hrow, (lrow[0], lrow[1], UNVERIFIABLE, ""))


def _make_listings(rng: random.Random, cfg: SynthConfig, t0: float, span: float) -> list[_Listing]:
    out: list[_Listing] = []
    while len(out) < cfg.listings:
        consumable = rng.random() < 0.2
        if consumable:
            pack = rng.choice(PACKS)
            noun = rng.choice(CONSUMABLES)
            title = rng.choice([f"{noun}, Pack of {pack}", f"{noun} {pack}-Pack",
                                f"{noun} ({pack} count)"])  # fmt: skip
            base = math.exp(rng.uniform(math.log(12), math.log(150)))
        else:
            pack = None
            title = f"{rng.choice(['Acme', 'Zenith', 'Nova', 'Orbit', 'Pico'])} {rng.choice(NOUNS)}"
            title += f" {rng.choice(['X', 'Pro', 'Max', 'Lite', 'S'])}{rng.randint(1, 99)}"
            base = math.exp(rng.uniform(math.log(15), math.log(2500)))
        gtin = _gtin(rng)
        n_ret = rng.choice((1, 1, 2, 2, 3, 4))
        for spec in rng.sample(RETAILERS, n_ret):
            if len(out) >= cfg.listings:
                break
            late = rng.random() < 0.25
            listing = _Listing(
                pid=len(out) + 1,
                retailer=spec,
                gtin=gtin if rng.random() < 0.85 else "",
                title=title,
                pack=pack,
                base_usd=base * rng.uniform(0.92, 1.08),
                list_mode=rng.choice(("none", "none", "honest", "inflated")),
                list_factor=rng.uniform(1.4, 2.5),
                born=t0 + (rng.uniform(0.1, 0.8) * span if late else 0.0),
                jitter=0.12 if spec.marketplace else (0.02 if rng.random() < 0.15 else 0.0),
            )
            _plant_own_events(rng, listing, t0, span)
            out.append(listing)
    return out


def _plant_own_events(rng: random.Random, li: _Listing, t0: float, span: float) -> None:
    """Reprices, launch settling, clearance ramps, lightning deals and flip-flops."""
    end = t0 + span
    if li.born > t0 and rng.random() < 0.6:
        settle = li.born + rng.uniform(3, 12) * 86400
        li.steps.append((li.born, rng.uniform(1.15, 1.6), "launch_settle"))
        li.steps.append((settle, 1.0, "normal"))
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        at = rng.uniform(max(li.born, t0) + 86400, end)
        li.steps.append((at, rng.choice((rng.uniform(0.55, 0.9), rng.uniform(1.05, 1.3))),
                         "permanent_reprice"))  # fmt: skip
    if rng.random() < 0.08:
        at = rng.uniform(li.born, end - 5 * 86400)
        factor = 1.0
        while factor > 0.2 and at < end:
            factor *= 1 - rng.uniform(0.1, 0.22)
            li.steps.append((at, factor, "clearance"))
            at += rng.uniform(2, 5) * 86400
    for _ in range(_poisson(rng, span / (25 * 86400))):
        at = rng.uniform(li.born, end)
        li.windows.append((at, at + rng.uniform(2, 12) * 3600, "lightning_deal",
                           rng.uniform(0.40, 0.65), ""))  # fmt: skip
    if rng.random() < 0.05:
        at = rng.uniform(li.born, end - 86400)
        li.windows.append((at, at + rng.uniform(5, 40) * 86400, "variant_flipflop",
                           rng.uniform(0.15, 0.6), str(rng.uniform(0.3, 0.5))))  # fmt: skip


def _plant_market_events(
    rng: random.Random, listings: list[_Listing], t0: float, span: float
) -> None:
    """A whole GTIN drops 40-70% at every retailer over a day or two (a new model is out)."""
    by_gtin: dict[str, list[_Listing]] = {}
    for li in listings:
        if li.gtin:
            by_gtin.setdefault(li.gtin, []).append(li)
    for group in by_gtin.values():
        if len(group) > 1 and rng.random() < 0.1:
            at = rng.uniform(t0 + 5 * 86400, t0 + span)
            factor = rng.uniform(0.3, 0.6)
            for li in group:
                li.steps.append((at + rng.uniform(0, 2) * 86400, factor, "market_drop"))


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < limit:
            return n
        n += 1


def _sale_days(rng: random.Random, t0: float, span: float) -> list[tuple[float, float]]:
    days = []
    for _ in range(max(1, round(span / (14 * 86400)))):
        at = t0 + math.floor(rng.uniform(0, span) / 86400) * 86400
        days.append((at, at + rng.choice((1, 1, 2, 3)) * 86400))
    return days


def _outages(rng: random.Random, t0: float, span: float) -> list[tuple[float, float]]:
    return [
        (at, at + rng.uniform(0.5, 3) * 86400)
        for at in (rng.uniform(t0, t0 + span) for _ in range(rng.choice((0, 1, 2))))
    ]


def _regular(li: _Listing, t: float) -> tuple[float, str]:
    """Intended regular price (USD) at t, and the hard-negative label of its current step."""
    factor, label, launch = 1.0, "normal", 1.0
    for at, f, lab in sorted(li.steps):
        if at > t:
            break
        if lab == "launch_settle":
            launch, label = f, lab
        elif lab == "normal":
            launch, label = 1.0, "normal"
        elif lab == "clearance":
            factor, label = f, lab
        else:
            factor *= f
            label = lab
    return li.base_usd * factor * launch, label


def _observe(
    rng: random.Random,
    cfg: SynthConfig,
    li: _Listing,
    sale_days: list[tuple[float, float]],
    outages: list[tuple[float, float]],
    t0: float,
    span: float,
    shared_gtins: set[str],
) -> Iterator[_Obs]:
    spec = li.retailer
    cur = spec.currency
    tz = timezone(timedelta(hours=spec.utc_offset_h))
    interval = spec.interval_h * 3600
    # per-listing crawl times: the retailer's cycles, each visit at its own point in the cycle
    times: list[float] = []
    t = max(t0, li.born) + rng.uniform(0, interval)
    while t < t0 + span:
        skip = any(a <= t < b for a, b in outages) or rng.random() < 0.03
        if not skip:
            times.append(t)
        if rng.random() < 0.005:
            t += rng.uniform(1, 5) * 86400  # out of stock, delisted for a while, blocked...
        t += interval * rng.uniform(0.6, 1.4)
    if not times:
        return
    glitch_at: list[tuple[int, int, str]] = []  # (first obs index, length, kind)
    shown_before: list[float] = []  # what the page showed at earlier crawls
    n_glitch = _poisson(rng, cfg.glitch_rate)
    if n_glitch and len(times) > 4:
        for _ in range(n_glitch):
            if li.born > t0 and li.gtin in shared_gtins and rng.random() < 0.15:
                start = rng.randint(0, 1)
                kind = "new_listing_error"
            else:
                start = rng.randint(2, len(times) - 1)
                kind = rng.choice(GLITCH_KINDS[:-1])
            glitch_at.append((start, rng.choice((1, 1, 2, 3, 5, 8)), kind))
    sale_share = {i: rng.random() for i in range(len(sale_days))}
    deal_depth = {i: rng.uniform(0.15, 0.5) if rng.random() > 0.06 else rng.uniform(0.55, 0.7)
                  for i in range(len(sale_days))}  # fmt: skip
    flip_state = False
    active: tuple[int, str, float] | None = None  # (first index, label, mistyped price)
    for i, t in enumerate(times):
        usd, label = _regular(li, t)
        price = charm(usd / spec.usd_rate, cur)
        shown = price
        for k, (a, b) in enumerate(sale_days):
            if a <= t < b and sale_share[k] < 0.6:
                shown = charm(price * (1 - deal_depth[k]), cur)
                label = "sale_day"
        for a, b, kind, depth, extra in li.windows:
            if a <= t < b:
                if kind == "lightning_deal":
                    shown = charm(price * (1 - depth), cur)
                    label = kind
                elif kind == "variant_flipflop":
                    flip_state = rng.random() < float(extra)
                    if flip_state:
                        shown = charm(price * (1 - depth), cur)
                    label = kind
        if li.jitter:
            shown = charm(shown * rng.uniform(1 - li.jitter, 1 + li.jitter / 2), cur)
            if spec.marketplace and rng.random() < 0.05:
                shown = charm(shown * rng.uniform(0.6, 0.8), cur)  # a cheap third-party seller
            if label == "normal":
                label = "marketplace_jitter" if spec.marketplace else "normal"
        elif rng.random() < 0.02:
            shown = round(shown + rng.choice((-0.01, 0.01, -0.05, 0.05)), 2)  # repricing bots
        event_id = ""
        for start, length, kind in glitch_at:
            if start <= i < start + length:
                if active is None or active[0] != start:
                    value = _glitch_price(rng, kind, shown, li, cur)
                    tellable = value is not None and _tellable(
                        kind, value, shown, shown_before, PRICE_STEP.get(cur, 1.0)
                    )
                    active = (start, kind if tellable else UNVERIFIABLE, value) if value else None
                if active is not None and active[0] == start:
                    shown = active[2]
                    label = active[1]
                    event_id = f"{li.pid}-{start}" if label != UNVERIFIABLE else ""
        scrape = not event_id and label != UNVERIFIABLE and rng.random() < 0.0015
        if scrape and shown * spec.usd_rate > 60:
            months = rng.choice([n for n in INSTALLMENTS if n != li.pack])
            shown = _minor_units(shown / months, cur)  # "or ¥6,242/mo", to the minor unit
            label = "installment_scrape"
        shown_before.append(shown)
        list_price = ""
        if li.list_mode == "honest":
            list_price = _fmt(price)
        elif li.list_mode == "inflated":
            list_price = _fmt(charm(price * li.list_factor, cur))
        at = datetime.fromtimestamp(round(t), tz).isoformat()
        if spec.utc_offset_h == 0 and i % 2:
            at = at.replace("+00:00", "Z")
        pid = str(li.pid)
        yield (
            t,
            (pid, at, _fmt(shown), list_price, cur, li.gtin, spec.slug, li.title),
            (pid, at, label, event_id),
        )


def _minor_units(value: float, currency: str) -> float:
    return float(round(value)) if currency in ZERO_DECIMAL else round(value, 2)


def _tellable(
    kind: str, value: float, intended: float, shown_before: list[float], step: float
) -> bool:
    """Whether a person with the data seen so far could tell this price is an error.

    A signature error (slip, digit, pack, currency) of a price the page showed in one of its
    last three crawls can be recognised; so can anything at least TELLABLE_DEPTH below all of
    them. An error of a price the page never showed (a marketplace seller's unseen offer, the
    first minutes of a sale) that is no deeper is, to anyone, a deal.
    A new listing's error is judged against other retailers afterwards (`_peer_checked`).
    """
    if kind == "new_listing_error":
        return True
    recent = shown_before[-3:]
    if not recent:
        return False
    if value <= (1 - TELLABLE_DEPTH) * min(recent):
        return True
    shown = sum(1 for p in recent if abs(p - intended) < 0.005)
    if kind == "extreme_discount" or not shown:
        return False
    if kind in ("dropped_digit", "swapped_digits"):
        if shown < 2:
            return False  # a price shown once (a deal's first crawl) is no usual price yet
        # a digit edit lands on a shelf price like any deal's; it stands out only when a deal
        # had many other prices to land on (80+ in a 25% band): a 154.99 page at 54.99 is a
        # lightning deal as often as a dropped "1" (measured: ~4 deals per error); in the
        # lightning band (35-70% off) it takes four times as many
        need = EDIT_CANDIDATES * (4 if 0.35 <= 1 - value / intended <= 0.7 else 1)
        return intended * DEAL_BAND / step >= need
    return True


def _glitch_price(
    rng: random.Random, kind: str, intended: float, li: _Listing, cur: str
) -> float | None:
    """The mistyped price for a glitch kind; None when this listing cannot have it."""
    usd_value = intended * li.retailer.usd_rate
    if usd_value < 25:
        return None  # below any alert's minimum saving: not an event worth labelling
    if kind in ("decimal_slip_10", "decimal_slip_100"):
        # the typed digits stay, the decimal point moves: 1,549.99 -> 154.99 (cut, not rounded)
        divisor = 10 if kind == "decimal_slip_10" else 100
        step = 1.0 if cur in ZERO_DECIMAL else 0.01
        value = math.floor(intended / divisor / step + 1e-6) * step
        return round(value, 2) or None
    if kind == "dropped_digit":
        whole = str(int(intended))
        if intended < 100:
            return None
        i = rng.randrange(len(whole))
        value = float(whole[:i] + whole[i + 1 :] or "0") + intended - int(intended)
        return value if value < intended * 0.7 else None
    if kind == "swapped_digits":
        whole = str(int(intended))
        if intended < 100:
            return None  # two digits: a swap is indistinguishable from a deal (docs/detection.md)
        swaps = [j for j in range(len(whole) - 1) if whole[j] > whole[j + 1]]
        for j in swaps:
            s = whole[:j] + whole[j + 1] + whole[j] + whole[j + 2 :]
            value = float(s) + intended - int(intended)
            if value <= intended * 0.7:
                return value
        return None
    if kind == "unit_price":
        return _minor_units(intended / li.pack, cur) if li.pack and li.pack >= 3 else None
    if kind == "wrong_currency":
        if cur not in ("JPY", "MXN", "CLP"):
            return None
        other_rate = rng.choice((1.0, 1.08))  # the USD or EUR figure on the page
        return charm(intended * li.retailer.usd_rate / other_rate * rng.uniform(0.98, 1.02),
                     "USD")  # fmt: skip
    if kind in ("extreme_discount", "new_listing_error"):
        return charm(intended * (1 - rng.uniform(0.8, 0.97)), cur)
    return None


def write(cfg: SynthConfig, history: Path, labels: Path) -> tuple[int, int]:
    """Write the history and its labels; return (rows, glitch events)."""
    rows = 0
    events: set[str] = set()
    with (
        history.open("w", newline="", encoding="utf-8") as hf,
        labels.open("w", newline="", encoding="utf-8") as lf,
    ):
        hw, lw = csv.writer(hf), csv.writer(lf)
        hw.writerow(HISTORY_COLUMNS)
        lw.writerow(LABEL_COLUMNS)
        for hrow, lrow in generate(cfg):
            hw.writerow(hrow)
            lw.writerow(lrow)
            rows += 1
            if lrow[3]:
                events.add(lrow[3])
    return rows, len(events)


def labels_path(history: Path) -> Path:
    """Where `synth` puts the labels of a history file (next to it)."""
    return history.with_name(history.stem + ".labels.csv")
