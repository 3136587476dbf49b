"""Plain values the detector works on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class PricePoint:
    observed_at: datetime
    price: Decimal
    list_price: Decimal | None = None
    availability: str | None = None


@dataclass(frozen=True)
class ProductInfo:
    product_id: int
    retailer: str
    currency: str
    title: str | None = None
    gtin: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class MarketContext:
    """Signals beyond the product's own history, as known at the observation's time."""

    # share of the retailer's recently observed products that are discounted (sale days)
    retailer_discounted_share: float | None = None
    # recent prices of the same GTIN at other retailers, converted to this currency
    peer_prices: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class Anomaly:
    glitch_type: str
    confidence: float
    baseline: Decimal | None
    discount: float
    reasons: tuple[str, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    # the price the discount is measured against (min of the baseline and the recent level)
    reference: Decimal | None = None
