"""Prometheus metrics of notifications (listed in docs/notifications.md for alert rules)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SENDS = Counter(
    "pricehawk_notifications_sends_total",
    "Outbox rows finished by a dispatcher, by channel and outcome"
    " (sent, failed, dead, review, expired, cancelled, retry).",
    ["channel", "outcome"],
)
SEND_SECONDS = Histogram(
    "pricehawk_notifications_send_duration_seconds",
    "Time a provider took to answer one send.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DISPATCH_LAG = Histogram(
    "pricehawk_notifications_dispatch_lag_seconds",
    "From an outbox row falling due to its delivery.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
DELIVERY_LATENCY = Histogram(
    "pricehawk_notifications_delivery_latency_seconds",
    "From a glitch's observation to its delivery to a subscriber, by tier.",
    ["tier"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400, 259200, 345600),
)
FANOUT_ROWS = Counter(
    "pricehawk_notifications_fanout_rows_total", "Outbox rows written by fan-out.", ["source"]
)
OUTBOX_DUE = Gauge(
    "pricehawk_notifications_outbox_due", "Pending outbox rows that are due now (a backlog)."
)
OUTBOX_OVERDUE = Gauge(
    "pricehawk_notifications_outbox_overdue",
    "Pending outbox rows due for more than 5 minutes (dispatchers stuck or missing).",
)
OUTBOX_ATTENTION = Gauge(
    "pricehawk_notifications_outbox_attention",
    "Outbox rows waiting for a person, by status (review, dead, failed).",
    ["status"],
)
