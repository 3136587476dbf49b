"""Plain values for notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Message:
    """One rendered notification for one recipient on one channel."""

    outbox_id: int
    channel: str
    address: str
    subject: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class SendResult:
    """What a provider said: accepted (with its message id), or why not."""

    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False  # connection refused, 429, 5xx
    unknown: bool = False  # read timeout or similar: it may have been sent


@dataclass(frozen=True)
class DueRow:
    """A claimed outbox row with what rendering and the liveness check need."""

    id: int
    user_id: int
    channel: str
    address: str
    tier: str
    attempts: int
    glitch_id: int | None
    product_title: str | None
    product_url: str
    retailer: str
    price: Decimal
    baseline: Decimal | None
    currency: str
    glitch_type: str
    observed_at: datetime
    validated_at: datetime
    last_price: Decimal | None
    last_observed_at: datetime | None
