"""Plain values for deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Deal:
    glitch_id: int
    product_id: int
    title: str | None
    url: str
    image_url: str | None
    retailer: str
    category: str | None
    price: Decimal
    baseline: Decimal | None
    currency: str
    glitch_type: str
    confidence: float
    observed_at: datetime
    validated_at: datetime
    visible_at: datetime  # validated_at + this tier's delay
    ended_at: datetime | None
    status: str

    @property
    def discount_pct(self) -> int | None:
        if not self.baseline or self.baseline <= 0:
            return None
        return round((1 - self.price / self.baseline) * 100)

    def lasted(self, now: datetime) -> timedelta:
        """How long the deal was (or has been) live."""
        return (self.ended_at or now) - self.observed_at


def describe_duration(span: timedelta) -> str:
    """'42 min', '3 h 5 min', '2 days' — how subscribers read how long a deal lived."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"
