"""What the console shows, as plain dataclasses (picklable: the app caches them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


def ratio(part: float, whole: float) -> float | None:
    """part / whole, or None when there is nothing to divide (no runs, no pages)."""
    return None if not whole else part / whole


@dataclass(frozen=True)
class CrawlHealth:
    window_s: int
    runs: int = 0
    finished: int = 0
    failed: int = 0
    running: int = 0
    pages: int = 0
    items: int = 0
    blocked: int = 0

    @property
    def success_rate(self) -> float | None:
        """Finished runs among those that ended (running ones have no outcome yet)."""
        return ratio(self.finished, self.finished + self.failed)

    @property
    def block_rate(self) -> float | None:
        """Blocked responses (403/429/CAPTCHA pages) among pages fetched."""
        return ratio(self.blocked, self.pages)


@dataclass(frozen=True)
class Funnel:
    window_s: int
    anomalies: int = 0
    pending: int = 0
    confirmed: int = 0
    rejected: int = 0
    glitches: int = 0
    notifications: int = 0
    sent: int = 0


@dataclass(frozen=True)
class Latency:
    """Seconds from a glitch's price being observed to its first delivered alert."""

    samples: int = 0
    p50_s: float | None = None
    p99_s: float | None = None


@dataclass(frozen=True)
class OutboxHealth:
    due: int = 0  # pending and due now
    overdue: int = 0  # pending and due longer ago than the dispatcher should take
    scheduled: int = 0  # pending, due later (delayed tiers)
    stuck: int = 0  # claimed ('sending') for too long
    failed: int = 0  # waiting for a retry
    dead: int = 0
    review: int = 0  # outcome unknown: an operator decides


@dataclass(frozen=True)
class WorkerBeat:
    worker: str
    role: str
    beat_at: datetime
    age_s: float


@dataclass(frozen=True)
class Overview:
    crawl: CrawlHealth
    items_per_minute: float
    funnel: Funnel
    latency: Latency
    outbox: OutboxHealth
    oldest_new_anomaly_s: float | None
    workers: list[WorkerBeat] = field(default_factory=list)


@dataclass(frozen=True)
class LastRun:
    status: str
    started_at: datetime
    finished_at: datetime | None
    pages: int
    items: int
    blocked: int


@dataclass(frozen=True)
class RetailerRow:
    id: int
    slug: str
    name: str
    fetch_mode: str
    paused: bool
    circuit_state: str
    failed_runs: int
    circuit_retry_at: datetime | None
    crawl_interval_s: int
    last_crawl_at: datetime | None
    last_success_at: datetime | None
    last_price_at: datetime | None
    products: int
    last_run: LastRun | None
    runs_24h: int = 0
    failed_24h: int = 0
    pages_24h: int = 0
    items_24h: int = 0
    blocked_24h: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # reason -> count, last 24 h
    fetch_errors: dict[str, int] = field(default_factory=dict)  # products' last fetch error
    proxy: dict[str, float] = field(default_factory=dict)  # proxy stats of the last run

    @property
    def block_rate(self) -> float | None:
        """Blocked pages among pages fetched in the last 24 hours."""
        return ratio(self.blocked_24h, self.pages_24h)


@dataclass(frozen=True)
class AnomalyRow:
    id: int
    product_id: int
    retailer: str
    title: str
    url: str
    observed_at: datetime
    price: Decimal
    baseline: Decimal | None
    list_price: Decimal | None
    currency: str
    discount: float | None
    confidence: float
    glitch_type: str
    scores: dict[str, Any]
    reasons: list[str]
    status: str
    validated_at: datetime | None
    created_at: datetime
    glitch_id: int | None = None
    glitch_status: str | None = None
    validator: str | None = None
    reasoning: str = ""
    operator_note: str = ""  # the last operator decision on it, from the audit log


@dataclass(frozen=True)
class PricePoint:
    observed_at: datetime
    price: Decimal
    list_price: Decimal | None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    glitch_id: int | None
    alert_event_id: int | None
    channel: str
    tier: str
    status: str
    attempts: int
    due_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    recipient: str  # masked
    error: str  # scrubbed


@dataclass(frozen=True)
class SubscriberSummary:
    users_by_tier: dict[str, int]
    demo_users: int
    active_by_tier: dict[str, int]
    mrr_by_tier: dict[str, Decimal]
    churned_30d: int
    churn_rate_30d: float | None
    past_due: int
    failed_payments_30d: int

    @property
    def mrr(self) -> Decimal:
        """Monthly recurring revenue, every tier."""
        return sum(self.mrr_by_tier.values(), Decimal(0))


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    before: Any
    after: Any


@dataclass(frozen=True)
class Alert:
    severity: str  # critical | warning
    name: str
    message: str
