"""Fan-out and dispatch: the steps the worker and the DAGs both run, plus the one-off sends
(welcome email, channel test) and the console's outbox actions."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pricehawk.db import transaction
from pricehawk.notifications import metrics, queries
from pricehawk.notifications.channels import Channel, build_channels
from pricehawk.notifications.channels.discord import target_key
from pricehawk.notifications.matching import IN_STOCK, step_alert
from pricehawk.notifications.models import AlertState, DueRow, SendResult
from pricehawk.notifications.policy import (
    backoff_seconds,
    needs_recheck,
    outcome_status,
    parse_rates,
    still_live,
)
from pricehawk.notifications.render import probe_message, render, welcome_message
from pricehawk.settings import Settings
from pricehawk.tiers import TIERS, is_delayed

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "pricehawk_outbox"  # NOTIFY: new due rows may exist
# Fan-outs run one at a time (a transaction-scoped advisory lock), so the daily cap counts
# exactly even with many workers; one fan-out statement covers every subscriber.
FANOUT_LOCK_KEY = 0x5048_464E_4F55  # "PHFNOU"
OVERDUE_AFTER_S = 300.0
# A rate limiter never holds a dispatcher longer than this: a row that would wait more goes
# back to pending until its slot (no attempt counted), and the batch moves on.
MAX_RATE_WAIT_S = 1.0
# Sends in flight per dispatcher; the worker's connection pool (5) covers their recording.
DISPATCH_CONCURRENCY = 4

Refetch = Callable[[DueRow], "tuple[Decimal | None, str | None] | None"]


def allowed_channels() -> dict[str, list[str]]:
    """Channels each tier may be told on (the plans), plus the demo's `file` channel."""
    try:
        from pricehawk.plans import PLANS

        return {p.tier: [*p.channels, "file"] for p in PLANS}
    except ImportError:  # plans not installed: every channel for every tier
        return {t: ["email", "sms", "whatsapp", "telegram", "discord", "file"] for t in TIERS}


# --- fan-out ---------------------------------------------------------------------------------


def fan_out_pending(pool: Any, settings: Settings, limit: int = 100) -> int:
    """Fan out every confirmed glitch not yet fanned out; returns outbox rows written."""
    allowed = allowed_channels()
    targets = [target_key(u) for u in settings.discord_public_webhooks]
    delays = dict(settings.tier_delays)
    twin_window = max(86400, max(delays.values(), default=0))
    written = 0
    with transaction(pool) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (FANOUT_LOCK_KEY,))
        for glitch_id in queries.glitches_to_fan_out(conn, limit):
            twin = queries.earlier_twin(conn, glitch_id, settings.liveness_tolerance, twin_window)
            if twin is not None:
                log.info("glitch %s repeats glitch %s: subscribers were told once", glitch_id, twin)
                queries.mark_fanned_out(conn, glitch_id)
                continue
            written += queries.fan_out_glitch(conn, glitch_id, delays, allowed, targets)
        if written:
            conn.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
    if written:
        metrics.FANOUT_ROWS.labels("glitch").inc(written)
    return written


def evaluate_alerts(pool: Any, settings: Settings, limit: int = 500) -> int:
    """Look at tracked products' new observations: fire (and disarm) or re-arm each alert.
    Returns outbox rows written."""
    allowed = allowed_channels()
    written = 0
    with transaction(pool) as conn:
        for row in queries.alerts_to_check(conn, limit):
            state = AlertState(
                row["kind"], row["threshold"], row["armed"], row["reference_price"],
                row["checked_in_stock"],
            )  # fmt: skip
            step = step_alert(state, row["last_price"], row["availability"], row["lowest_before"])
            availability = row["availability"]
            queries.save_alert_state(
                conn,
                row["id"],
                armed=step.armed,
                reference_price=step.reference_price,
                checked_at=row["last_observed_at"],
                in_stock=None if availability is None else availability in IN_STOCK,
                fired=step.fire,
            )
            if not step.fire:
                continue
            was = row["lowest_before"] if row["kind"] == "new_low" else row["reference_price"]
            event = queries.record_alert_event(
                conn, row["id"], row["last_observed_at"], row["last_price"], was
            )
            if event is not None:
                written += queries.fan_out_alert_event(conn, event, row["user_id"], allowed)
        if written:
            conn.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
    if written:
        metrics.FANOUT_ROWS.labels("alert").inc(written)
    return written


# --- dispatch ----------------------------------------------------------------------------------


class RateLimiter:
    """Spaces sends of one channel at most `rate` per second in this process."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def reserve(self, max_wait: float) -> tuple[bool, float]:
        """(True, seconds to sleep) with a slot taken, or (False, seconds until one is free)."""
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            if at - now > max_wait:
                return False, at - now
            self.next_at = at + self.interval
            return True, at - now

    def pause(self, seconds: float) -> None:
        """The provider said 429: nobody in this process sends on this channel for a while."""
        with self.lock:
            self.next_at = max(self.next_at, time.monotonic() + seconds)


def refetch_price(settings: Settings) -> Refetch:
    """The liveness re-check's fresh look: fetch the product page politely and read it."""

    def refetch(row: DueRow) -> tuple[Decimal | None, str | None] | None:
        from pricehawk.extraction import SelectorConfig, extract
        from pricehawk.fetch import FetchError, fetch
        from pricehawk.retailers import RetailerConfigError, registry

        try:
            retailer = next((r for r in registry(settings) if r.slug == row.retailer), None)
            page = fetch(row.product_url, user_agent=settings.user_agent, timeout=10.0)
        except (FetchError, RetailerConfigError, OSError) as exc:
            log.info("liveness re-fetch of %s failed: %s", row.product_url, exc)
            return None
        if page.status >= 400:
            return None
        selectors = None
        if retailer is not None and retailer.extraction:
            selectors = SelectorConfig.from_mapping(dict(retailer.extraction))
        result = extract(
            page.text,
            page.url,
            selectors=selectors,
            locale=retailer.locale if retailer else None,
            currency=retailer.currency if retailer else None,
        )
        if result.health != "ok" or result.price is None or result.ambiguous:
            return None
        return result.price, result.availability

    return refetch


class Dispatcher:
    """Channels, rate limiters and a name, kept across passes by a long-running worker."""

    def __init__(
        self,
        settings: Settings,
        channels: Mapping[str, Channel] | None = None,
        *,
        refetch: Refetch | None = None,
        concurrency: int = DISPATCH_CONCURRENCY,
    ) -> None:
        self.settings = settings
        self.concurrency = max(1, concurrency)
        self._threads: ThreadPoolExecutor | None = None
        self.channels = dict(channels) if channels is not None else build_channels(settings)
        rates = parse_rates(settings.channel_rates_raw)
        self.limiters = {name: RateLimiter(rates.get(name, 0.0)) for name in self.channels}
        self.refetch = refetch or refetch_price(settings)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def dispatch(self, pool: Any, limit: int = 100) -> dict[str, int]:
        """Claim due rows, re-check liveness, send, record. Returns counts by outcome.

        Sends run `concurrency` at a time (a provider call is mostly waiting on the network);
        subscribers' rows go before public ones, whose teasers say when Pro members heard.
        """
        with transaction(pool) as conn:
            rows = queries.claim_due(conn, limit, self.name, list(self.channels))
        counts: dict[str, int] = {}
        subscribers = [r for r in rows if r.user_id is not None]
        public = [r for r in rows if r.user_id is None]
        for group in (subscribers, public):
            if self.concurrency > 1 and len(group) > 1:
                outcomes = list(self._executor().map(lambda r: self._safe_deliver(pool, r), group))
            else:
                outcomes = [self._safe_deliver(pool, r) for r in group]
            for outcome in outcomes:
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _executor(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="dispatch")
        return self._threads

    def close(self) -> None:
        """Stop the sending threads (a worker calls this when it stops)."""
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None

    def _safe_deliver(self, pool: Any, row: DueRow) -> str:
        try:
            return self.deliver(pool, row)
        except Exception:  # one row's failure never stops the rest
            # The row stays 'sending'; the stale sweep moves it to review.
            log.exception("dispatch of outbox row %s failed", row.id)
            return "error"

    def deliver(self, pool: Any, row: DueRow) -> str:
        """Send one claimed row (or expire, cancel or postpone it) and record what happened."""
        now = datetime.now(UTC)
        address = row.public_target if row.user_id is None else row.address
        if not row.channel_enabled or not address:
            return self._finish(pool, row, "cancelled", "channel turned off or removed")
        if row.glitch_id is not None and row.glitch_status != "live":
            return self._finish(pool, row, "expired", f"glitch {row.glitch_status}")
        # tier delays apply to glitches; a tracked-product alert is due at once for every tier
        delayed = row.glitch_id is not None and (
            is_delayed(row.tier, self.settings.tier_delays) or row.user_id is None
        )
        if row.variant != "teaser" and needs_recheck(delayed, row.validated_at, now):
            reason = self.dead_deal(row, now)
            if reason:
                return self._finish(pool, row, "expired", reason)
        channel = self.channels.get(row.channel)
        if channel is None:
            return self._record(pool, row, SendResult(False, error=f"no channel {row.channel!r}"))
        limiter = self.limiters[row.channel]
        ok, wait = limiter.reserve(MAX_RATE_WAIT_S)
        if not ok:
            with transaction(pool) as conn:
                queries.release_claim(conn, row.id, self.name, wait)
            return "postponed"
        if wait > 0:
            time.sleep(wait)
        if row.variant == "teaser" and row.glitch_id is not None:
            # asked now, not at claim time: the Pro rows of the same batch went out just before
            with transaction(pool) as conn:
                row = dataclasses.replace(row, pro_told_at=queries.pro_told_at(conn, row.glitch_id))
        message = render(row, self.settings, datetime.now(UTC), address)
        started = time.monotonic()
        try:
            result = channel.send(message)
        except Exception as exc:  # a channel bug must not stop the batch
            log.exception("channel %s crashed on outbox row %s", row.channel, row.id)
            # we cannot tell whether the provider got it: review, never resend blindly
            result = SendResult(False, error=f"channel error: {exc!r}"[:500], unknown=True)
        metrics.SEND_SECONDS.labels(row.channel).observe(time.monotonic() - started)
        if result.retryable and result.retry_after_s:
            limiter.pause(result.retry_after_s)
        return self._record(pool, row, result)

    def dead_deal(self, row: DueRow, now: datetime) -> str | None:
        """Why a deal should not be sent any more (None: it is still live)."""
        if row.price is None:
            return None
        tolerance = self.settings.liveness_tolerance
        max_age = float(self.settings.liveness_max_age_s)
        fresh = row.last_observed_at is not None and (
            (now - row.last_observed_at).total_seconds() <= max_age
        )
        if fresh:
            if row.availability == "out_of_stock":
                return "out of stock now"
            return still_live(
                row.price, row.last_price, row.last_observed_at, now,
                tolerance=tolerance, max_age_s=max_age,
            )  # fmt: skip
        seen = self.refetch(row)
        if seen is None:
            return "latest price too old and a fresh look failed"
        price, availability = seen
        if availability == "out_of_stock":
            return "out of stock now"
        return still_live(row.price, price, now, now, tolerance=tolerance, max_age_s=max_age)

    def _finish(self, pool: Any, row: DueRow, status: str, reason: str) -> str:
        with transaction(pool) as conn:
            queries.set_final(conn, row.id, status, reason)
        metrics.SENDS.labels(row.channel, status).inc()
        return status

    def _record(self, pool: Any, row: DueRow, result: SendResult) -> str:
        status = outcome_status(result, row.attempts, self.settings.dispatch_max_attempts)
        retry_in = backoff_seconds(row.attempts, result.retry_after_s) if status == "pending" else 0
        with transaction(pool) as conn:
            # The claim was committed durably before the send; this record need not wait for
            # its WAL flush: if the database loses it in a crash, the row is back in 'sending'
            # and the stale sweep sends it to review — never out again.
            conn.execute("SET LOCAL synchronous_commit = off")
            ours = queries.record_result(
                conn,
                row.id,
                status,
                worker=self.name,
                attempts=row.attempts,
                provider_message_id=result.provider_message_id,
                error=result.error,
                retry_in_s=retry_in,
            )
        if not ours:
            log.warning("outbox row %s changed hands during its send (%s)", row.id, status)
        metrics.SENDS.labels(row.channel, "retry" if status == "pending" else status).inc()
        if status == "sent":
            now = datetime.now(UTC)
            metrics.DISPATCH_LAG.labels(row.channel).observe(
                max(0.0, (now - row.due_at).total_seconds())
            )
            if row.observed_at is not None and row.glitch_id is not None and row.user_id:
                metrics.DELIVERY_LATENCY.labels(row.tier).observe(
                    max(0.0, (now - row.observed_at).total_seconds())
                )
        elif status in ("review", "dead", "failed"):
            log.warning("outbox row %s on %s: %s (%s)", row.id, row.channel, status, result.error)
        return status


def dispatch_due(
    pool: Any,
    settings: Settings,
    *,
    limit: int = 100,
    channels: Mapping[str, Channel] | None = None,
    dispatcher: Dispatcher | None = None,
) -> dict[str, int]:
    """Claim due rows, re-check liveness, send, record. Returns counts by outcome.

    `channels` (name -> channel) limits this pass to those channels' rows; a long-running
    caller passes its own `dispatcher` to keep connections and rate limits between passes.
    """
    if dispatcher is not None:
        return dispatcher.dispatch(pool, limit)
    one_off = Dispatcher(settings, channels)
    try:
        return one_off.dispatch(pool, limit)
    finally:
        one_off.close()


def sweep_stale_sends(pool: Any, older_than_s: float) -> int:
    """Rows a dead dispatcher left in 'sending' go to review (never out again by themselves)."""
    with transaction(pool) as conn:
        return queries.sweep_stale_sends(conn, older_than_s)


def refresh_outbox_metrics(pool: Any) -> dict[str, int]:
    """Update the outbox gauges from the database; returns the counts."""
    with transaction(pool) as conn:
        backlog = queries.outbox_backlog(conn, OVERDUE_AFTER_S)
    metrics.OUTBOX_DUE.set(backlog["due"])
    metrics.OUTBOX_OVERDUE.set(backlog["overdue"])
    for status in ("review", "dead", "failed"):
        metrics.OUTBOX_ATTENTION.labels(status).set(backlog.get(status, 0))
    return backlog


# --- one-off sends and console actions ----------------------------------------------------------


def send_welcome_email(settings: Settings, email: str) -> SendResult:
    """The sign-up welcome email (the portal calls this once per new account)."""
    channel = build_channels(settings, ("email",))["email"]
    return channel.send(welcome_message(settings, email))


def send_test(settings: Settings, kind: str, address: str) -> SendResult:
    """Send a one-off test alert on a channel, to prove the address works."""
    channels = build_channels(settings, (kind,))
    if kind not in channels:
        return SendResult(False, error=f"no channel named {kind!r}")
    return channels[kind].send(probe_message(settings, kind, address))


def retry_outbox_row(pool: Any, row_id: int, actor: str = "console") -> bool:
    """Send a row in review, failed or dead again now; False if it is in no such state."""
    with transaction(pool) as conn:
        changed = queries.retry_row(conn, row_id, actor)
        if changed:
            conn.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
    return changed


def cancel_outbox_row(pool: Any, row_id: int, actor: str = "console") -> bool:
    """Never send this row; False if it was already sent, expired or cancelled."""
    with transaction(pool) as conn:
        return queries.cancel_row(conn, row_id, actor)


def mark_outbox_row_sent(pool: Any, row_id: int, actor: str = "console") -> bool:
    """A row in review did go out (checked with the provider): close it as sent."""
    with transaction(pool) as conn:
        return queries.resolve_sent(conn, row_id, actor)


def recent_problems(pool: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Rows waiting for a person (review, dead, failed), newest first, for the console."""
    with transaction(pool) as conn:
        rows = conn.execute(
            """SELECT o.id, o.status, o.channel, o.tier, o.user_id, o.public_target, o.glitch_id,
                      o.alert_event_id, o.attempts, o.last_error, o.claimed_at, o.due_at
               FROM notification_outbox o WHERE o.status IN ('review', 'dead', 'failed')
               ORDER BY o.claimed_at DESC NULLS LAST, o.id DESC LIMIT %s""",
            (limit,),
        ).fetchall()
    return [dict(r) for r in rows]


def public_targets(settings: Settings) -> dict[str, str]:
    """Outbox names of the public webhooks -> their URLs (secrets: never log the values)."""
    return {target_key(u): u for u in settings.discord_public_webhooks}


__all__ = [
    "OUTBOX_CHANNEL",
    "Dispatcher",
    "cancel_outbox_row",
    "dispatch_due",
    "evaluate_alerts",
    "fan_out_pending",
    "mark_outbox_row_sent",
    "retry_outbox_row",
    "send_test",
    "send_welcome_email",
]
