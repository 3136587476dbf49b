"""Plain values for tracked products."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ALERT_KINDS = ("target_price", "pct_drop", "new_low", "back_in_stock")


class TrackError(ValueError):
    """Tracking a URL failed; the message is for the subscriber to read."""


class TrackLimitReached(TrackError):  # noqa: N818 - reads as what happened
    """The tier's tracked-product limit is reached (the portal offers an upgrade)."""

    def __init__(self, limit: int, upgrade_to: str | None) -> None:
        self.limit = limit
        self.upgrade_to = upgrade_to
        more = f" Upgrade to {upgrade_to} to track more." if upgrade_to else ""
        super().__init__(f"Your plan tracks up to {limit} products.{more}")


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    threshold: Decimal | None
    armed: bool
    last_fired_at: datetime | None


@dataclass(frozen=True)
class TrackedProduct:
    id: int
    product_id: int
    url: str
    retailer: str
    title: str | None
    image_url: str | None
    price: Decimal | None
    currency: str | None
    availability: str | None
    lowest_price: Decimal | None
    last_observed_at: datetime | None
    paused: bool
    alerts: tuple[Alert, ...] = field(default_factory=tuple)

    def profit(self, markup_pct: Decimal) -> Decimal | None:
        """What a reseller adding `markup_pct` percent would make on one unit at today's price."""
        if self.price is None or markup_pct <= 0:
            return None
        return (self.price * markup_pct / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class PricePointRow:
    observed_at: datetime
    price: Decimal
    availability: str | None
