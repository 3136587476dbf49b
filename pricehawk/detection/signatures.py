"""Arithmetic signatures of human pricing errors, as pure functions of plain numbers.

A price that a person mistyped keeps a trace of the intended one: its digits shifted (÷10,
÷100), one digit dropped, two adjacent digits swapped, the per-unit price of a pack, or the
number of another currency. A sale leaves no such trace (it lands on a round or charm price),
which is what lets us alert on a 41%-off swap and stay quiet on a 60%-off lightning deal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

_PACK = re.compile(
    r"(?:pack|set|case|box|bundle)\s+of\s+(\d{1,3})"
    r"|(\d{1,3})\s*[- ]?\s*(?:pack|pk|count|ct|pcs|pieces|pc|rolls|cans|bottles)\b"
    r"|\b(\d{1,3})\s*x\s+\d",
    re.IGNORECASE,
)


# How far a repricing bot nudges a shelf price, in minor units (x.99 -> x.94).
BOT_CENTS = 4.5


def pack_count(title: str | None) -> int | None:
    """How many items the title says the listing holds ("Pack of 12", "24-count"), if > 1."""
    if not title:
        return None
    for match in _PACK.finditer(title):
        n = int(next(g for g in match.groups() if g))
        if 2 <= n <= 500:
            return n
    return None


def _cents(x: float) -> str:
    return str(round(x * 100))


def _near(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * b


def decimal_slip(
    price: float, refs: Iterable[float], tol: float, *, inside: bool = False
) -> int | None:
    """10 or 100 (or 1000) when the price is a reference with its decimal point moved.

    `inside`: refs are a (low, high) range the intended price was in, widened by `tol`.
    """
    refs = tuple(refs)
    for divisor in (10, 100, 1000):
        if inside:
            if refs[0] * (1 - tol) <= price * divisor <= refs[1] * (1 + tol):
                return divisor
        elif any(_near(price * divisor, ref, tol) for ref in refs):
            return divisor
    return None


def exact_slip(price: float, shown: Iterable[float], minor: float) -> int | None:
    """10 or 100 when the price is a shown price's digits with the point moved, to the unit.

    1,549.99 typed one place off reads 154.99 (cut) or 155.00 (rounded), never "about" it.
    """
    for ref in shown:
        for divisor in (10, 100):
            share = ref / divisor
            if abs(price - share) <= minor * 0.505 or 0 <= share - price < minor * 0.999:
                return divisor
    return None


def digit_edit(price: float, refs: Iterable[float]) -> str | None:
    """'dropped_digit' or 'swapped_digits' when the price's digits are a reference's, edited.

    Compared on whole cents, so the mistyped price must keep everything else of the intended
    one; references under 100 have too few digits for an edit to be more than a coincidence.
    """
    p = _cents(price)
    for ref in refs:
        if ref <= price or ref < 100:
            continue
        r = _cents(ref)
        if len(p) == len(r) - 1 and _is_drop(r, p):
            return "dropped_digit"
        if len(p) == len(r) and _is_swap(r, p):
            return "swapped_digits"
    return None


def _is_drop(long: str, short: str) -> bool:
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _is_swap(a: str, b: str) -> bool:
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and (a[diff[1]] == b[diff[0]])
    )


def unit_price(
    price: float, refs: Iterable[float], pack: int | None, tol: float, minor: float = 0.01
) -> bool:
    """The price is a reference divided by the pack size the title announces.

    To the minor unit for any pack of 3+; within `tol` from four items up,
    where no sale goes that deep anyway. Half a pack of 2 is also an ordinary 50%-off deal.
    """
    if not pack or pack < 3:
        return False
    for ref in refs:
        # rounded only: a per-unit figure is computed, and cut .99 prices (83.99 / 3 -> 27.99)
        # would meet every charm-priced deal
        if abs(price - ref / pack) <= minor * 0.505:
            return True
        if tol and pack >= 4 and _near(price * pack, ref, tol):
            return True
    return False


def currency_mixup(
    price: float,
    refs: Iterable[float],
    currency: str,
    rates: Mapping[str, float],
    tol: float,
    max_ratio: float = 0.5,
    sources: Iterable[str] = ("USD", "EUR", "GBP"),
) -> str | None:
    """The other currency whose number this is (a USD figure on a JPY page), if any.

    Only currencies worth at least 1/max_ratio of ours: a GBP figure on a USD page is 21% off,
    which any sale also is; and only `sources`, whose figures leak onto foreign pages (feeds
    priced in dollars or euros), not every pair of rates (a yen figure on a peso page).
    """
    sources = frozenset(sources)
    own = rates.get(currency.upper())
    if not own:
        return None
    for ref in refs:
        for other, rate in rates.items():
            if other == currency.upper() or own / rate > max_ratio or other not in sources:
                continue
            if _near(price, ref * own / rate, tol):
                return other
    return None


def installment(
    price: float,
    refs: Iterable[float],
    counts: Iterable[int],
    pack: int | None,
    minor: float = 0.01,
    plausible: tuple[float, float] | None = None,
    grid: float = 1.0,
    endings: frozenset[int] = frozenset({0, 99}),
) -> int | None:
    """n when the price is a shelf price split into n payments: a scrape error, not a deal.

    The page's "or $54.13/mo" read as the price. Seen: the figure is one of `refs` (prices the
    page showed) divided by n, rounded to the minor unit. Unseen (the page moved to a
    price we never saw, e.g. a sale started): n x the figure lands, within n half-units of
    rounding, on a shelf price in `plausible` (low, high) — which a typed price almost never
    does: 24.99 x n ends n cents short of a whole unit, never on x.99 or x.00. `grid`: the
    currency's price step when shops price in whole steps (MXN 10: 1,549; JPY 10: 12,980;
    CLP 1,000: 189,990).
    A pack of n items announced in the title is the unit-price glitch instead.
    """
    refs = tuple(refs)
    half = minor / 2
    if minor >= 1 and abs(price - round(price)) > 0.004:
        return None  # a payment in a whole-unit currency is whole too (a USD 393.99 on ¥)
    for n in counts:
        if n == pack:
            continue
        # computed, so rounded (never cut); from 12 payments up, of a price a repricing bot
        # nudged by a few cents too (a typed x.99 price x 12 still misses a x.99 by 11 cents)
        slack = half * 1.01 + (BOT_CENTS * minor / n if n >= 12 else 0.0)
        for ref in refs:
            if abs(price - ref / n) <= slack:
                return n
        if plausible is None:
            continue
        lo, hi = (price - half) * n, (price + half) * n
        if hi < plausible[0] or lo > plausible[1]:
            continue
        if _shelf_between(lo, hi, grid, endings):
            return n
    return None


def _shelf_between(lo: float, hi: float, grid: float, endings: frozenset[int]) -> bool:
    """Whether [lo, hi] holds a price this shop would set: its own cents endings (x.99), or
    in a whole-step currency a multiple of the step, or one or ten units below it."""
    if grid >= 10:
        step = round(grid)
        return any(
            k % step == 0 or step - k % step in (1, 10)
            for k in range(math.ceil(lo - 1e-9), math.floor(hi) + 1)
        )
    for base in range(math.floor(lo), math.floor(hi) + 1):
        for c in endings:
            if lo - 1e-9 <= base + c / 100 <= hi + 1e-9:
                return True
    return False


def endings_of(prices: Iterable[float]) -> frozenset[int]:
    """The cents endings a listing's prices use (x.99 -> 99)."""
    return frozenset(round(p * 100) % 100 for p in prices)


def loose_slip(
    price: float,
    recent: Iterable[float],
    tol: float,
    minor: float,
    endings: frozenset[int] | None,
) -> int | None:
    """10 or 100 when the price is the point-moved digits of an unseen price near a recent one.

    For listings whose price moves every crawl: the intended price is unknown, but it was
    within `tol` of a price the page showed lately and, when the shop keeps one cents ending
    (`endings`), ended so (154.9x -> x.99 fits 15.49; 142.00 is no slip of a 1,420.99 page).
    """
    recent = tuple(recent)
    for divisor in (10, 100):
        lo, hi = price * divisor, (price + minor) * divisor - minor
        if not any(lo <= r * (1 + tol) and hi >= r * (1 - tol) for r in recent):
            continue
        if minor >= 1 or endings is None or _shelf_between(lo, hi, 1.0, endings):
            return divisor
    return None


def typed_price(price: float, grid: float, nine: bool = True) -> bool:
    """Whether a price in a whole-unit currency ends the way shops type it.

    On the currency's price grid (¥12,980 on 10, $189,990 CLP on 1,000), or one unit below it
    (MXN 1,549); a payment (¥6,241) rarely is. Currencies with cents have no such grid (1.0).
    """
    if grid < 10 or abs(price - round(price)) >= 0.005:
        return False
    rest = round(price) % round(grid)
    return rest == 0 or round(grid) - rest == 10 or (nine and round(grid) - rest == 1)


def free_candidates(reference: float, grid: float, band: float = 0.25) -> float:
    """How many shelf prices a deal could land on in a band of the reference (coincidence odds)."""
    return band * reference / max(grid, 0.01)
