"""Which alerts are firing, decided from what the Overview and Retailers pages already read.

Pure: the same thresholds as the Prometheus rules an operator would page on, so the console
is useful even where Alertmanager is not set up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pricehawk.console.models import Alert, Overview, RetailerRow

WORKER_SILENT_S = 120  # a worker beats every few seconds while alive
VALIDATION_LAG_S = 300
MIN_RUNS = 3  # rates over fewer runs are noise
MIN_SUCCESS_RATE = 0.8
MIN_PAGES = 50
MAX_BLOCK_RATE = 0.2
STALE_INTERVALS = 3  # no new price for this many crawl intervals


def firing(overview: Overview, retailers: Sequence[RetailerRow], now: datetime) -> list[Alert]:
    """Every alert the data calls for, critical first."""
    alerts: list[Alert] = []
    box = overview.outbox
    if box.overdue:
        alerts.append(
            Alert(
                "critical",
                "OutboxOverdue",
                f"{box.overdue} alerts are due but unsent after 5 minutes",
            )
        )
    crawl = overview.crawl
    rate = crawl.success_rate
    if rate is not None and crawl.finished + crawl.failed >= MIN_RUNS and rate < MIN_SUCCESS_RATE:
        alerts.append(
            Alert(
                "critical",
                "CrawlFailing",
                f"only {rate:.0%} of the last hour's crawl runs succeeded",
            )
        )
    if box.stuck:
        alerts.append(
            Alert(
                "warning",
                "OutboxStuck",
                f"{box.stuck} sends claimed over 5 minutes ago never finished",
            )
        )
    if box.review:
        alerts.append(
            Alert(
                "warning",
                "SendsNeedReview",
                f"{box.review} sends have an unknown outcome and need a decision",
            )
        )
    if box.dead:
        alerts.append(Alert("warning", "DeadLetters", f"{box.dead} sends were dead-lettered"))
    lag = overview.oldest_new_anomaly_s
    if lag is not None and lag > VALIDATION_LAG_S:
        alerts.append(
            Alert(
                "warning",
                "ValidationLagging",
                f"an anomaly has waited {lag / 60:.0f} min for validation",
            )
        )
    for w in overview.workers:
        if w.age_s > WORKER_SILENT_S:
            alerts.append(
                Alert(
                    "warning",
                    "WorkerSilent",
                    f"{w.role} worker {w.worker} silent for {w.age_s / 60:.0f} min",
                )
            )
    for r in retailers:
        alerts.extend(retailer_alerts(r, now))
    return sorted(alerts, key=lambda a: (a.severity != "critical", a.name))


def retailer_alerts(r: RetailerRow, now: datetime) -> list[Alert]:
    """A retailer's own alerts: breaker open, blocked too often, prices gone stale."""
    if r.paused:
        return []  # paused on purpose: nothing to page about
    out = []
    if r.circuit_state == "open":
        out.append(
            Alert(
                "warning",
                "CircuitOpen",
                f"{r.slug}: circuit breaker open after {r.failed_runs} failed runs",
            )
        )
    block = r.block_rate
    if block is not None and r.pages_24h >= MIN_PAGES and block > MAX_BLOCK_RATE:
        out.append(Alert("warning", "BlockRateHigh", f"{r.slug}: {block:.0%} of pages blocked"))
    if r.last_price_at is not None and now - r.last_price_at > timedelta(
        seconds=STALE_INTERVALS * r.crawl_interval_s
    ):
        age_h = (now - r.last_price_at).total_seconds() / 3600
        out.append(Alert("warning", "PricesStale", f"{r.slug}: no new price for {age_h:.1f} h"))
    return out
