"""Plain values for preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal


@dataclass(frozen=True)
class Preferences:
    retailers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_discount_pct: Decimal = Decimal(0)
    min_margin_pct: Decimal | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"
    daily_cap: int | None = None


@dataclass(frozen=True)
class ChannelRow:
    kind: str
    address: str
    verified: bool
    enabled: bool
