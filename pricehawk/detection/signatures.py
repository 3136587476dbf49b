"""Arithmetic signatures of human pricing errors, as pure functions of plain numbers.

A price that a person mistyped keeps a trace of the intended one: its digits shifted (÷10,
÷100), one digit dropped, two adjacent digits swapped, the per-unit price of a pack, or the
number of another currency. A sale leaves no such trace (it lands on a round or charm price),
which is what lets us alert on a 41%-off swap and stay quiet on a 60%-off lightning deal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_PACK = re.compile(
    r"(?:pack|set|case|box|bundle)\s+of\s+(\d{1,3})"
    r"|(\d{1,3})\s*[- ]?\s*(?:pack|pk|count|ct|pcs|pieces|pc|rolls|cans|bottles)\b"
    r"|\b(\d{1,3})\s*x\s+\d",
    re.IGNORECASE,
)


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


def decimal_slip(price: float, refs: Iterable[float], tol: float) -> int | None:
    """10 or 100 (or 1000) when the price is a reference with its decimal point moved."""
    for ref in refs:
        for divisor in (10, 100, 1000):
            if _near(price * divisor, ref, tol):
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


def unit_price(price: float, refs: Iterable[float], pack: int | None, tol: float) -> bool:
    """The price is a reference divided by the pack size the title announces.

    To the cent for small packs (half or a third of the price is also a plausible deal);
    within `tol` from four items up, where no sale goes that deep anyway.
    """
    if not pack:
        return False
    for ref in refs:
        if abs(price - round(ref / pack, 2)) < 0.006 or (
            pack >= 4 and _near(price * pack, ref, tol)
        ):
            return True
    return False


def currency_mixup(
    price: float,
    refs: Iterable[float],
    currency: str,
    rates: Mapping[str, float],
    tol: float,
    max_ratio: float = 0.5,
) -> str | None:
    """The other currency whose number this is (a USD figure on a JPY page), if any.

    Only currencies worth at least 1/max_ratio of ours: a GBP figure on a USD page is 21% off,
    which any sale also is.
    """
    own = rates.get(currency.upper())
    if not own:
        return None
    for ref in refs:
        for other, rate in rates.items():
            if other == currency.upper() or own / rate > max_ratio:
                continue
            if _near(price, ref * own / rate, tol):
                return other
    return None


def installment(
    price: float,
    refs: Iterable[float],
    counts: Iterable[int],
    pack: int | None,
    span: tuple[float, float] | None = None,
) -> int | None:
    """n when the price is a reference split into n monthly payments, to the cent.

    That is a scrape error (the page's "or $54.13/mo" read as the price), not the
    retailer's mistake; a pack of n items announced in the title is the unit-price glitch.
    When the figure is not itself a shelf price (x.99, x.95, x.49, x.00; ...9 or ...0 in whole
    units), it is also taken as an installment if n x price lands near the listing's recent
    prices (`span`: low, high), since the page's current price may be one we never saw.
    Mistyped prices keep shelf endings; split payments rarely have them.
    """
    refs = tuple(refs)
    for n in counts:
        if n == pack:
            continue
        for ref in refs:
            if abs(price - round(ref / n, 2)) < 0.006:
                return n
        if span is not None and n >= 4 and not is_shelf_price(price):
            lo, hi = (price - 0.005) * n, (price + 0.005) * n
            if hi >= span[0] * 0.8 and lo <= span[1] * 1.1 and _has_shelf_price(lo, hi):
                return n
    return None


def is_shelf_price(price: float) -> bool:
    """Whether a price ends the way shops set prices (x.99, x.95, x.49, x.00, whole ...9)."""
    cents = round(price * 100) % 100
    return cents in (0, 49, 95, 99)


def _has_shelf_price(lo: float, hi: float) -> bool:
    """Whether [lo, hi] holds a price a shop would set (x.99, x.95, x.49, x.00, or ...9/...0)."""
    if hi - lo >= 1:
        return True
    for base in (int(lo), int(lo) + 1):
        for cents in (0.0, 0.49, 0.95, 0.99):
            if lo <= base + cents <= hi:
                return True
    return False


def free_candidates(reference: float, grid: float, band: float = 0.25) -> float:
    """How many shelf prices a deal could land on in a band of the reference (coincidence odds)."""
    return band * reference / max(grid, 0.01)
