"""SQL for fan-out and the outbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pricehawk.notifications.models import DueRow, SendResult

# One row per (glitch, user, channel) for every matching subscriber, due at validation time
# plus the tier's delay. ON CONFLICT makes a repeated fan-out a no-op.
_FAN_OUT = """
INSERT INTO notification_outbox (glitch_id, user_id, channel, tier, due_at)
SELECT g.id, u.id, c.kind, u.tier,
       g.validated_at + make_interval(secs => COALESCE((%(delays)s::jsonb ->> u.tier)::int,
                                                       %(max_delay)s))
FROM glitches g
JOIN products p ON p.id = g.product_id
JOIN retailers r ON r.id = p.retailer_id
CROSS JOIN users u
JOIN notification_channels c ON c.user_id = u.id AND c.enabled AND c.verified_at IS NOT NULL
LEFT JOIN notification_preferences np ON np.user_id = u.id
WHERE g.id = %(glitch_id)s
  AND u.deleted_at IS NULL
  AND (np.user_id IS NULL OR (
        (cardinality(np.retailers) = 0 OR r.slug = ANY(np.retailers))
    AND (cardinality(np.categories) = 0 OR p.category = ANY(np.categories))
    AND (np.min_price IS NULL OR g.price >= np.min_price)
    AND (np.max_price IS NULL OR g.price <= np.max_price)
    AND (g.baseline IS NULL OR g.baseline = 0
         OR (1 - g.price / g.baseline) * 100 >= np.min_discount_pct)))
ON CONFLICT DO NOTHING
"""


def fan_out_glitch(conn: Any, glitch_id: int, delays: Mapping[str, int]) -> int:
    """Write outbox rows for one glitch; mark it fanned out. Returns rows inserted."""
    cur = conn.execute(
        _FAN_OUT,
        {"glitch_id": glitch_id, "delays": json.dumps(dict(delays)), "max_delay": max(delays.values())},
    )
    conn.execute("UPDATE glitches SET fanned_out_at = now() WHERE id = %s", (glitch_id,))
    return int(cur.rowcount)


def glitches_to_fan_out(conn: Any, limit: int) -> list[int]:
    """Confirmed glitches not yet fanned out, locked so only one fan-out handles each."""
    rows = conn.execute(
        """SELECT id FROM glitches WHERE fanned_out_at IS NULL AND status = 'live'
           ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
        (limit,),
    ).fetchall()
    return [r["id"] for r in rows]


def claim_due(conn: Any, limit: int, worker: str) -> list[DueRow]:
    """Move up to `limit` due rows to 'sending' (SKIP LOCKED) and return them.

    The caller commits the claim before calling any provider, so a crash after the call
    leaves the row in 'sending' — which `sweep_stale_sends` moves to review, never resends.
    """
    rows = conn.execute(
        """
        WITH due AS (
            SELECT id FROM notification_outbox
            WHERE status = 'pending' AND due_at <= now()
              AND (next_attempt_at IS NULL OR next_attempt_at <= now())
            ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
        UPDATE notification_outbox o
        SET status = 'sending', attempts = o.attempts + 1, claimed_at = now(),
            claimed_by = %(worker)s
        FROM due WHERE o.id = due.id
        RETURNING o.id
        """,
        {"limit": limit, "worker": worker},
    ).fetchall()
    if not rows:
        return []
    details = conn.execute(
        """
        SELECT o.id, o.user_id, o.channel, c.address, o.tier, o.attempts, o.glitch_id,
               p.title AS product_title, p.url AS product_url, r.slug AS retailer,
               g.price, g.baseline, g.currency, g.glitch_type, g.observed_at, g.validated_at,
               p.last_price, p.last_observed_at
        FROM notification_outbox o
        JOIN notification_channels c ON c.user_id = o.user_id AND c.kind = o.channel
        JOIN glitches g ON g.id = o.glitch_id
        JOIN products p ON p.id = g.product_id
        JOIN retailers r ON r.id = p.retailer_id
        WHERE o.id = ANY(%s) ORDER BY o.due_at
        """,
        ([r["id"] for r in rows],),
    ).fetchall()
    return [DueRow(**d) for d in details]


def record_result(conn: Any, row_id: int, result: SendResult, *, max_attempts: int,
                  attempts: int, backoff_s: float) -> str:
    """Store a send's outcome; returns the row's new status."""
    if result.accepted:
        status = "sent"
    elif result.unknown:
        status = "review"  # it may have gone out: a person decides, nothing resends it
    elif result.retryable:
        status = "pending" if attempts < max_attempts else "dead"
    else:
        status = "failed"
    conn.execute(
        """
        UPDATE notification_outbox
        SET status = %s, provider_message_id = COALESCE(%s, provider_message_id),
            last_error = %s, sent_at = CASE WHEN %s = 'sent' THEN now() ELSE sent_at END,
            next_attempt_at = CASE WHEN %s = 'pending' THEN now() + make_interval(secs => %s)
                                   ELSE NULL END
        WHERE id = %s AND status = 'sending'
        """,
        (status, result.provider_message_id, result.error, status, status, backoff_s, row_id),
    )
    return status


def expire(conn: Any, row_id: int, reason: str) -> None:
    conn.execute(
        "UPDATE notification_outbox SET status = 'expired', last_error = %s WHERE id = %s",
        (reason, row_id),
    )


def sweep_stale_sends(conn: Any, older_than_s: int) -> int:
    """Rows stuck in 'sending' (a dispatcher died mid-send) go to review, not out again."""
    cur = conn.execute(
        """UPDATE notification_outbox SET status = 'review',
               last_error = 'dispatcher stopped during the send; outcome unknown'
           WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => %s)""",
        (older_than_s,),
    )
    return int(cur.rowcount)
