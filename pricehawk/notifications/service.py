"""Fan-out and dispatch: the steps the worker and the DAGs both run."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pricehawk.db import transaction
from pricehawk.notifications import queries
from pricehawk.notifications.channels import Channel, build_channels
from pricehawk.notifications.models import DueRow, Message, SendResult
from pricehawk.settings import Settings
from pricehawk.tiers import is_delayed

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "pricehawk_outbox"  # NOTIFY: new due rows may exist


def fan_out_pending(pool: Any, settings: Settings, limit: int = 100) -> int:
    """Fan out every confirmed glitch not yet fanned out; returns outbox rows written."""
    written = 0
    with transaction(pool) as conn:
        for glitch_id in queries.glitches_to_fan_out(conn, limit):
            written += queries.fan_out_glitch(conn, glitch_id, settings.tier_delays)
        if written:
            conn.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
    return written


def still_live(row: DueRow, settings: Settings, now: datetime) -> str | None:
    """None when a delayed deal still looks live; otherwise why it expired (pure)."""
    if row.last_price is None or row.last_observed_at is None:
        return "no current price"
    age = (now - row.last_observed_at).total_seconds()
    if age > settings.liveness_max_age_s:
        return f"latest price is {age:.0f} s old"
    tolerance = Decimal(str(settings.liveness_tolerance))
    if abs(row.last_price - row.price) > row.price * tolerance:
        return f"price is now {row.last_price} (glitch price {row.price})"
    return None


def render(row: DueRow, now: datetime) -> Message:
    """The message for one outbox row."""
    title = row.product_title or row.product_url
    live_for = int((now - row.observed_at).total_seconds() // 60)
    was = f" (usually {row.baseline:.2f})" if row.baseline is not None else ""
    text = (
        f"{title} at {row.retailer}: {row.price:.2f} {row.currency}{was}. "
        f"Kind: {row.glitch_type}. Live for {live_for} min.\n{row.product_url}"
    )
    return Message(row.id, row.channel, row.address, f"Price glitch: {title}", text, row.product_url)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff between retries: 30 s, 60 s, 120 s... capped at one hour."""
    return float(min(3600, 30 * 2 ** max(0, attempts - 1)))


def dispatch_due(
    pool: Any, settings: Settings, *, limit: int = 100, channels: dict[str, Channel] | None = None
) -> dict[str, int]:
    """Claim due rows, re-check liveness, send, record. Returns counts by outcome."""
    channels = channels or build_channels(settings)
    worker = f"{socket.gethostname()}:{id(pool)}"
    with transaction(pool) as conn:
        rows = queries.claim_due(conn, limit, worker)
    counts: dict[str, int] = {}
    now = datetime.now(UTC)
    for row in rows:
        outcome = _deliver(pool, settings, channels, row, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _deliver(pool: Any, settings: Settings, channels: dict[str, Channel], row: DueRow,
             now: datetime) -> str:
    if is_delayed(row.tier, settings.tier_delays):
        reason = still_live(row, settings, now)
        if reason:
            with transaction(pool) as conn:
                queries.expire(conn, row.id, reason)
            return "expired"
    channel = channels.get(row.channel)
    if channel is None:
        result = SendResult(False, error=f"no channel named {row.channel!r}")
    else:
        try:
            result = channel.send(render(row, now))
        except Exception as exc:  # noqa: BLE001 - a channel bug must not stop the batch
            log.exception("channel %s crashed on outbox row %s", row.channel, row.id)
            result = SendResult(False, error=f"channel error: {exc}", unknown=True)
    with transaction(pool) as conn:
        return queries.record_result(
            conn,
            row.id,
            result,
            max_attempts=settings.dispatch_max_attempts,
            attempts=row.attempts,
            backoff_s=backoff_seconds(row.attempts),
        )
