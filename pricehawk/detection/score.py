"""The detector: is a new price an anomaly against the product's history?

A first, deliberately simple rule set (median baseline, a deep discount, decimal slips);
the Detection issue replaces it with a robust one behind the same `score` signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from statistics import median

from pricehawk.detection.models import Anomaly, MarketContext, PricePoint, ProductInfo

MIN_HISTORY = 2
MIN_DISCOUNT = 0.5  # ordinary sales (20-40% off) stay below this


def _slip_type(price: Decimal, baseline: Decimal) -> str | None:
    ratio = float(price / baseline)
    for divisor, name in ((10, "decimal_slip_10"), (100, "decimal_slip_100")):
        if abs(ratio * divisor - 1) < 0.05:
            return name
    return None


def score(
    history: Sequence[PricePoint],
    new: PricePoint,
    product: ProductInfo,
    market: MarketContext | None = None,
) -> Anomaly | None:
    """An Anomaly when `new` is far below the product's usual price, else None."""
    if len(history) < MIN_HISTORY or new.price <= 0:
        return None
    baseline = Decimal(median(p.price for p in history))
    if baseline <= 0:
        return None
    discount = float(1 - new.price / baseline)
    if discount < MIN_DISCOUNT:
        return None
    slip = _slip_type(new.price, baseline)
    kind = slip or ("extreme_discount" if discount >= 0.85 else "deep_discount")
    confidence = min(1.0, 0.5 + discount / 2 + (0.1 if slip else 0.0))
    return Anomaly(
        glitch_type=kind,
        confidence=round(confidence, 3),
        baseline=baseline,
        discount=round(discount, 4),
        reasons=(f"{discount:.0%} below the median of {len(history)} observations",),
        scores={"discount": discount},
    )
