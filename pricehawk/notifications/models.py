"""Plain values for notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal

# Outbox row states (the CHECK in sql/0001_core.sql): pending -> sending -> one of the rest.
FINAL_STATUSES = ("sent", "failed", "dead", "review", "expired", "cancelled")


@dataclass(frozen=True)
class Message:
    """One rendered notification for one recipient on one channel.

    Every channel reads what it can carry: `text` always; `html` (email); `title`, `facts`
    and `url` (Discord embeds, Telegram); `unsubscribe_url` (email headers and footer).
    """

    outbox_id: int
    channel: str
    address: str
    subject: str
    text: str
    url: str | None = None
    html: str | None = None
    title: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    unsubscribe_url: str | None = None
    kind: str = "deal"  # deal | teaser | alert | welcome | test


@dataclass(frozen=True)
class SendResult:
    """What a provider said: accepted (with its message id), or why not."""

    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False  # the provider did not take it: connection refused, 429, 5xx
    unknown: bool = False  # read timeout or similar: it may have been sent
    retry_after_s: float | None = None  # the provider's own Retry-After, when it gave one


@dataclass(frozen=True)
class DueRow:
    """A claimed outbox row with what rendering and the liveness check need."""

    id: int
    user_id: int | None
    channel: str
    tier: str
    variant: str
    attempts: int
    due_at: datetime
    address: str | None = None  # the user's channel address (None: public row or removed)
    channel_enabled: bool = True
    public_target: str | None = None
    glitch_id: int | None = None
    alert_event_id: int | None = None
    glitch_status: str | None = None
    product_id: int | None = None
    product_title: str | None = None
    product_url: str = ""
    category: str | None = None
    retailer: str = ""
    retailer_name: str = ""
    price: Decimal | None = None
    baseline: Decimal | None = None
    currency: str = ""
    glitch_type: str | None = None
    observed_at: datetime | None = None
    validated_at: datetime | None = None
    last_price: Decimal | None = None
    last_observed_at: datetime | None = None
    availability: str | None = None
    alert_kind: str | None = None
    alert_threshold: Decimal | None = None
    alert_reference: Decimal | None = None
    pro_told_at: datetime | None = None


@dataclass(frozen=True)
class Preferences:
    """A subscriber's matching preferences (notification_preferences, plus the user's own)."""

    retailers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_discount_pct: Decimal = Decimal(0)
    min_margin_pct: Decimal | None = None
    markup_pct: Decimal = Decimal(0)
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"
    daily_cap: int | None = None


@dataclass(frozen=True)
class GlitchFacts:
    """What matching looks at in a glitch."""

    retailer: str
    category: str | None
    price: Decimal
    baseline: Decimal | None


@dataclass(frozen=True)
class AlertState:
    """One tracked alert's evaluation state (tracked_alerts)."""

    kind: str
    threshold: Decimal | None
    armed: bool
    reference_price: Decimal | None = None
    checked_in_stock: bool | None = None


@dataclass(frozen=True)
class AlertStep:
    """What one observation does to a tracked alert: fire or not, and its next state."""

    fire: bool
    armed: bool
    reference_price: Decimal | None
    reason: str = ""


@dataclass
class DispatchCounts:
    """Outcomes of one dispatch pass (by status), for logs and the worker's heartbeat."""

    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
