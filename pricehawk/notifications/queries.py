"""SQL for matching, fan-out, the outbox, tracked alerts and channel links."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pricehawk.notifications.models import DueRow

# --- fan-out ---------------------------------------------------------------------------------

# One statement per glitch, for every subscriber at once (100k in well under a second):
# preferences, the user's markup, allowed channels per tier, quiet hours in the user's own time
# zone (an unknown zone name counts as UTC rather than failing the statement) and the daily cap.
# The cap counts the distinct glitches already scheduled on the same local day. ON CONFLICT
# makes a repeated fan-out a no-op. pricehawk.notifications.matching holds the same rules in
# Python; tests compare the two.
_FAN_OUT = """
WITH g AS (
    SELECT g.id, g.price, g.baseline, g.validated_at, r.slug AS retailer, p.category
    FROM glitches g
    JOIN products p ON p.id = g.product_id
    JOIN retailers r ON r.id = p.retailer_id
    WHERE g.id = %(glitch_id)s AND g.status = 'live'
),
delays AS (
    SELECT key AS tier, value::int AS secs FROM jsonb_each_text(%(delays)s::jsonb)
),
allowed AS (
    SELECT a.key AS tier, k.kind
    FROM jsonb_each(%(allowed)s::jsonb) a, jsonb_array_elements_text(a.value) AS k(kind)
),
cand AS MATERIALIZED (
    SELECT u.id AS user_id, ch.kind, u.tier, np.daily_cap, COALESCE(z.name, 'UTC') AS tz,
           notify_quiet_release(
               g.validated_at + make_interval(secs => COALESCE(d.secs, %(max_delay)s)),
               COALESCE(z.name, 'UTC'), np.quiet_start, np.quiet_end) AS due
    FROM g
    CROSS JOIN users u
    JOIN notification_channels ch
      ON ch.user_id = u.id AND ch.enabled AND ch.verified_at IS NOT NULL
    JOIN allowed a ON a.tier = u.tier AND a.kind = ch.kind
    LEFT JOIN delays d ON d.tier = u.tier
    LEFT JOIN notification_preferences np ON np.user_id = u.id
    LEFT JOIN (SELECT name FROM pg_timezone_names) z ON z.name = u.timezone
    WHERE u.deleted_at IS NULL
      AND (np.user_id IS NULL OR (
            (cardinality(np.retailers) = 0 OR g.retailer = ANY(np.retailers))
        AND (cardinality(np.categories) = 0 OR g.category = ANY(np.categories))
        AND (np.min_price IS NULL OR g.price >= np.min_price)
        AND (np.max_price IS NULL OR g.price <= np.max_price)
        AND (np.min_discount_pct <= 0 OR (g.baseline > 0
             AND (1 - g.price / g.baseline) * 100 >= np.min_discount_pct))
        AND (np.min_margin_pct IS NULL OR (g.baseline > 0 AND g.price > 0
             AND (g.baseline * (1 + u.markup_pct / 100) - g.price) / g.price * 100
                 >= np.min_margin_pct))))
),
-- Counted once for all capped users before any row is written (a correlated count per row
-- would also re-read the rows this very statement is inserting).
day_counts AS MATERIALIZED (
    SELECT c.user_id, count(DISTINCT o.glitch_id) AS n
    FROM (SELECT DISTINCT user_id, tz, due FROM cand WHERE daily_cap IS NOT NULL) c
    JOIN notification_outbox o
      ON o.user_id = c.user_id AND o.glitch_id IS NOT NULL AND o.glitch_id <> %(glitch_id)s
     AND o.status NOT IN ('expired', 'cancelled', 'failed', 'dead')
     AND o.due_at >= date_trunc('day', c.due AT TIME ZONE c.tz) AT TIME ZONE c.tz
     AND o.due_at < (date_trunc('day', c.due AT TIME ZONE c.tz) + interval '1 day')
                    AT TIME ZONE c.tz
    GROUP BY c.user_id
)
INSERT INTO notification_outbox (glitch_id, user_id, channel, tier, due_at)
SELECT %(glitch_id)s, c.user_id, c.kind, c.tier, c.due
FROM cand c
LEFT JOIN day_counts dc ON dc.user_id = c.user_id
WHERE c.daily_cap IS NULL OR COALESCE(dc.n, 0) < c.daily_cap
ON CONFLICT DO NOTHING
"""

# Public channels: a teaser at validation time, the full deal once the Free delay has passed.
_FAN_OUT_PUBLIC = """
INSERT INTO notification_outbox (glitch_id, public_target, channel, tier, variant, due_at)
SELECT g.id, t.target, 'discord', 'public', v.variant,
       CASE v.variant WHEN 'teaser' THEN g.validated_at
            ELSE g.validated_at + make_interval(secs => %(full_delay)s) END
FROM glitches g, unnest(%(targets)s::text[]) AS t(target), (VALUES ('teaser'), ('deal')) v(variant)
WHERE g.id = %(glitch_id)s AND g.status = 'live'
ON CONFLICT DO NOTHING
"""


def fan_out_glitch(
    conn: Any,
    glitch_id: int,
    delays: Mapping[str, int],
    allowed: Mapping[str, Sequence[str]],
    public_targets: Sequence[str] = (),
) -> int:
    """Write outbox rows for one glitch and mark it fanned out. Returns rows inserted."""
    # hashing 100k subscribers' rows in memory beats sorting them on disk (transaction-local)
    conn.execute("SET LOCAL work_mem = '64MB'")
    cur = conn.execute(
        _FAN_OUT,
        {
            "glitch_id": glitch_id,
            "delays": json.dumps(dict(delays)),
            "max_delay": max(delays.values(), default=0),
            "allowed": json.dumps({k: list(v) for k, v in allowed.items()}),
        },
    )
    written = int(cur.rowcount)
    if public_targets:
        cur = conn.execute(
            _FAN_OUT_PUBLIC,
            {
                "glitch_id": glitch_id,
                "targets": list(public_targets),
                "full_delay": int(delays.get("free", max(delays.values(), default=0))),
            },
        )
        written += int(cur.rowcount)
    mark_fanned_out(conn, glitch_id)
    return written


def mark_fanned_out(conn: Any, glitch_id: int) -> None:
    conn.execute("UPDATE glitches SET fanned_out_at = now() WHERE id = %s", (glitch_id,))


def glitches_to_fan_out(conn: Any, limit: int) -> list[int]:
    """Confirmed glitches not yet fanned out, locked so only one fan-out handles each."""
    rows = conn.execute(
        """SELECT id FROM glitches WHERE fanned_out_at IS NULL AND status = 'live'
           ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
        (limit,),
    ).fetchall()
    return [r["id"] for r in rows]


def earlier_twin(conn: Any, glitch_id: int, tolerance: float, window_s: int) -> int | None:
    """An earlier live glitch of the same product at (about) the same price, already fanned
    out recently: the same deal confirmed twice (two crawls saw it), which subscribers must
    hear of once."""
    row = conn.execute(
        """
        SELECT e.id FROM glitches g
        JOIN glitches e ON e.product_id = g.product_id AND e.id <> g.id
        WHERE g.id = %(id)s AND e.status = 'live' AND e.fanned_out_at IS NOT NULL
          AND e.validated_at > g.validated_at - make_interval(secs => %(window)s)
          AND abs(e.price - g.price) <= g.price * %(tolerance)s
        ORDER BY e.id LIMIT 1
        """,
        {"id": glitch_id, "tolerance": Decimal(str(tolerance)), "window": window_s},
    ).fetchone()
    return None if row is None else int(row["id"])


# --- tracked-product alerts --------------------------------------------------------------------


def alerts_to_check(conn: Any, limit: int) -> list[dict[str, Any]]:
    """Alerts whose product has an observation they have not looked at yet (locked, SKIP
    LOCKED), with the product's latest state and, for new-low alerts, its earlier low."""
    rows = conn.execute(
        """
        SELECT a.id, a.kind, a.threshold, a.armed, a.reference_price, a.checked_in_stock,
               t.user_id, t.product_id, p.last_price, p.availability, p.last_observed_at,
               CASE WHEN a.kind = 'new_low' THEN (
                   SELECT min(o.price) FROM price_observations o
                   WHERE o.product_id = p.id AND o.observed_at < p.last_observed_at) END
                   AS lowest_before
        FROM tracked_alerts a
        JOIN tracked_products t ON t.id = a.tracked_product_id AND NOT t.paused
        JOIN products p ON p.id = t.product_id
        WHERE p.last_observed_at IS NOT NULL
          AND (a.checked_at IS NULL OR p.last_observed_at > a.checked_at)
        ORDER BY a.id LIMIT %s
        FOR UPDATE OF a SKIP LOCKED
        """,
        (limit,),
    ).fetchall()
    return [dict(r) for r in rows]


def save_alert_state(
    conn: Any,
    alert_id: int,
    *,
    armed: bool,
    reference_price: Decimal | None,
    checked_at: datetime,
    in_stock: bool | None,
    fired: bool,
) -> None:
    conn.execute(
        """UPDATE tracked_alerts SET armed = %s, reference_price = %s, checked_at = %s,
               checked_in_stock = COALESCE(%s, checked_in_stock),
               last_fired_at = CASE WHEN %s THEN now() ELSE last_fired_at END
           WHERE id = %s""",
        (armed, reference_price, checked_at, in_stock, fired, alert_id),
    )


def record_alert_event(
    conn: Any,
    alert_id: int,
    observed_at: datetime,
    price: Decimal | None,
    reference: Decimal | None,
) -> int | None:
    """The alert fired on this observation (once: unique per alert and observation)."""
    row = conn.execute(
        """INSERT INTO alert_events (tracked_alert_id, observed_at, price, reference_price)
           VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id""",
        (alert_id, observed_at, price, reference),
    ).fetchone()
    return None if row is None else int(row["id"])


def fan_out_alert_event(
    conn: Any, event_id: int, user_id: int, allowed: Mapping[str, Sequence[str]]
) -> int:
    """One outbox row per enabled channel of the tracking user, due now (or after their quiet
    hours). A tracked product is the user's own request: no tier delay and no daily cap."""
    cur = conn.execute(
        """
        WITH allowed AS (
            SELECT a.key AS tier, k.kind
            FROM jsonb_each(%(allowed)s::jsonb) a, jsonb_array_elements_text(a.value) AS k(kind)
        )
        INSERT INTO notification_outbox (alert_event_id, user_id, channel, tier, due_at)
        SELECT %(event)s, u.id, ch.kind, u.tier,
               notify_quiet_release(now(), COALESCE(z.name, 'UTC'), np.quiet_start, np.quiet_end)
        FROM users u
        JOIN notification_channels ch
          ON ch.user_id = u.id AND ch.enabled AND ch.verified_at IS NOT NULL
        JOIN allowed a ON a.tier = u.tier AND a.kind = ch.kind
        LEFT JOIN notification_preferences np ON np.user_id = u.id
        LEFT JOIN (SELECT name FROM pg_timezone_names) z ON z.name = u.timezone
        WHERE u.id = %(user)s AND u.deleted_at IS NULL
        ON CONFLICT DO NOTHING
        """,
        {
            "event": event_id,
            "user": user_id,
            "allowed": json.dumps({k: list(v) for k, v in allowed.items()}),
        },
    )
    return int(cur.rowcount)


# --- the outbox ----------------------------------------------------------------------------------

_DETAILS = """
SELECT o.id, o.user_id, o.channel, o.tier, o.variant, o.attempts, o.due_at, o.public_target,
       o.glitch_id, o.alert_event_id, c.address,
       CASE WHEN o.user_id IS NULL THEN true
            ELSE COALESCE(c.enabled AND c.verified_at IS NOT NULL AND u.deleted_at IS NULL, false)
       END AS channel_enabled,
       g.status AS glitch_status, p.id AS product_id, p.title AS product_title,
       p.url AS product_url, p.category, r.slug AS retailer, r.name AS retailer_name,
       COALESCE(g.price, e.price) AS price, g.baseline,
       COALESCE(g.currency, p.currency, '') AS currency, g.glitch_type,
       COALESCE(g.observed_at, e.observed_at) AS observed_at,
       COALESCE(g.validated_at, e.created_at) AS validated_at,
       p.last_price, p.last_observed_at, p.availability,
       a.kind AS alert_kind, a.threshold AS alert_threshold, e.reference_price AS alert_reference,
       CASE WHEN o.variant = 'teaser' THEN (
           SELECT min(x.sent_at) FROM notification_outbox x
           WHERE x.glitch_id = o.glitch_id AND x.tier IN ('pro', 'elite') AND x.status = 'sent')
       END AS pro_told_at
FROM notification_outbox o
LEFT JOIN users u ON u.id = o.user_id
LEFT JOIN notification_channels c ON c.user_id = o.user_id AND c.kind = o.channel
LEFT JOIN glitches g ON g.id = o.glitch_id
LEFT JOIN alert_events e ON e.id = o.alert_event_id
LEFT JOIN tracked_alerts a ON a.id = e.tracked_alert_id
LEFT JOIN tracked_products t ON t.id = a.tracked_product_id
JOIN products p ON p.id = COALESCE(g.product_id, t.product_id)
JOIN retailers r ON r.id = p.retailer_id
WHERE o.id = ANY(%s)
ORDER BY o.due_at, o.user_id NULLS LAST, o.id
"""


def claim_due(
    conn: Any, limit: int, worker: str, channels: Sequence[str] | None = None
) -> list[DueRow]:
    """Move up to `limit` due rows to 'sending' (SKIP LOCKED) and return them.

    The caller commits the claim before calling any provider, so a crash after the call
    leaves the row in 'sending' — which `sweep_stale_sends` moves to review, never resends.
    Subscribers' rows go before public ones due at the same moment (a teaser says when Pro
    members were told).
    """
    rows = conn.execute(
        """
        WITH due AS (
            SELECT id FROM notification_outbox
            WHERE status = 'pending' AND due_at <= now()
              AND (next_attempt_at IS NULL OR next_attempt_at <= now())
              AND (%(channels)s::text[] IS NULL OR channel = ANY(%(channels)s::text[]))
            ORDER BY due_at, user_id NULLS LAST, id
            LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
        UPDATE notification_outbox o
        SET status = 'sending', attempts = o.attempts + 1, claimed_at = now(),
            claimed_by = %(worker)s
        FROM due WHERE o.id = due.id
        RETURNING o.id
        """,
        {
            "limit": limit,
            "worker": worker,
            "channels": list(channels) if channels is not None else None,
        },
    ).fetchall()
    if not rows:
        return []
    details = conn.execute(_DETAILS, ([r["id"] for r in rows],)).fetchall()
    return [DueRow(**d) for d in details]


def pro_told_at(conn: Any, glitch_id: int) -> datetime | None:
    """When the first Pro or Elite member heard of a glitch (None: nobody yet)."""
    row = conn.execute(
        """SELECT min(sent_at) AS t FROM notification_outbox
           WHERE glitch_id = %s AND tier IN ('pro', 'elite') AND status = 'sent'""",
        (glitch_id,),
    ).fetchone()
    return None if row is None else row["t"]


def record_result(
    conn: Any,
    row_id: int,
    status: str,
    *,
    worker: str,
    attempts: int,
    provider_message_id: str | None = None,
    error: str | None = None,
    retry_in_s: float = 0.0,
) -> bool:
    """Store a send's outcome. Only the claim that sent it may record it (a row the stale
    sweep moved to review meanwhile still takes the real answer). False if not ours."""
    cur = conn.execute(
        """
        UPDATE notification_outbox
        SET status = %(status)s,
            provider_message_id = COALESCE(%(mid)s, provider_message_id),
            last_error = %(error)s,
            sent_at = CASE WHEN %(status)s = 'sent' THEN now() ELSE sent_at END,
            next_attempt_at = CASE WHEN %(status)s = 'pending'
                                   THEN now() + make_interval(secs => %(retry)s) END
        WHERE id = %(id)s AND claimed_by = %(worker)s AND attempts = %(attempts)s
          AND status IN ('sending', 'review')
        """,
        {
            "status": status,
            "mid": provider_message_id,
            "error": error,
            "retry": retry_in_s,
            "id": row_id,
            "worker": worker,
            "attempts": attempts,
        },
    )
    return bool(cur.rowcount)


def release_claim(conn: Any, row_id: int, worker: str, delay_s: float) -> None:
    """Hand a claimed row back unsent, to be tried after `delay_s` (no attempt counted)."""
    conn.execute(
        """UPDATE notification_outbox SET status = 'pending', attempts = attempts - 1,
               next_attempt_at = now() + make_interval(secs => %s)
           WHERE id = %s AND status = 'sending' AND claimed_by = %s""",
        (delay_s, row_id, worker),
    )


def sweep_stale_sends(conn: Any, older_than_s: float) -> int:
    """Rows stuck in 'sending' (a dispatcher died mid-send) go to review, not out again."""
    cur = conn.execute(
        """UPDATE notification_outbox SET status = 'review',
               last_error = 'dispatcher stopped during the send; outcome unknown'
           WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => %s)""",
        (older_than_s,),
    )
    return int(cur.rowcount)


def retry_row(conn: Any, row_id: int, actor: str) -> bool:
    """Send a row in review, failed or dead again now (a person decided it did not go out)."""
    return _change(conn, row_id, actor, "retry", "pending", ("review", "failed", "dead"))


def cancel_row(conn: Any, row_id: int, actor: str) -> bool:
    """Never send this row (pending, in review, failed or dead)."""
    return _change(
        conn, row_id, actor, "cancel", "cancelled", ("pending", "review", "failed", "dead")
    )


def resolve_sent(conn: Any, row_id: int, actor: str) -> bool:
    """A row in review did reach the recipient (checked with the provider): mark it sent."""
    return _change(conn, row_id, actor, "mark_sent", "sent", ("review",))


def _change(
    conn: Any, row_id: int, actor: str, action: str, to: str, allowed_from: tuple[str, ...]
) -> bool:
    before = conn.execute(
        "SELECT status, attempts, last_error FROM notification_outbox WHERE id = %s FOR UPDATE",
        (row_id,),
    ).fetchone()
    if before is None or before["status"] not in allowed_from:
        return False
    conn.execute(
        """UPDATE notification_outbox SET status = %(to)s,
               next_attempt_at = NULL,
               due_at = CASE WHEN %(to)s = 'pending' THEN LEAST(due_at, now()) ELSE due_at END,
               sent_at = CASE WHEN %(to)s = 'sent' THEN COALESCE(sent_at, now()) ELSE sent_at END,
               last_error = CASE WHEN %(to)s = 'pending' THEN last_error
                                 ELSE COALESCE(last_error, %(action)s) END
           WHERE id = %(id)s""",
        {"to": to, "action": action, "id": row_id},
    )
    conn.execute(
        """INSERT INTO audit_log (actor, action, target, before, after)
           VALUES (%s, %s, %s, %s, %s)""",
        (
            actor,
            f"outbox.{action}",
            f"notification_outbox:{row_id}",
            json.dumps(dict(before)),
            json.dumps({"status": to}),
        ),
    )
    return True


def set_final(conn: Any, row_id: int, status: str, reason: str) -> None:
    """Expire or cancel a claimed row without sending it."""
    conn.execute(
        "UPDATE notification_outbox SET status = %s, last_error = %s WHERE id = %s",
        (status, reason, row_id),
    )


def outbox_backlog(conn: Any, overdue_after_s: float) -> dict[str, int]:
    """Rows due now, and rows due for longer than `overdue_after_s` (a stuck dispatcher)."""
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE due_at <= now()) AS due,
                  count(*) FILTER (WHERE due_at <= now() - make_interval(secs => %s)) AS overdue
           FROM notification_outbox WHERE status = 'pending'""",
        (overdue_after_s,),
    ).fetchone()
    attention = conn.execute(
        """SELECT status, count(*) AS n FROM notification_outbox
           WHERE status IN ('review', 'dead', 'failed') GROUP BY status"""
    ).fetchall()
    out = {"due": int(row["due"]), "overdue": int(row["overdue"])}
    out.update({r["status"]: int(r["n"]) for r in attention})
    return out


# --- channels: unsubscribe and Telegram linking -------------------------------------------------


def disable_channel(conn: Any, user_id: int, kind: str) -> str | None:
    """Turn one channel off; returns its address (None when the user has no such channel)."""
    row = conn.execute(
        """UPDATE notification_channels SET enabled = false WHERE user_id = %s AND kind = %s
           RETURNING address""",
        (user_id, kind),
    ).fetchone()
    return None if row is None else str(row["address"])


def create_link_token(conn: Any, user_id: int, token_hash: str, ttl_s: int) -> None:
    conn.execute(
        """INSERT INTO telegram_link_tokens (token_hash, user_id, expires_at)
           VALUES (%s, %s, now() + make_interval(secs => %s))""",
        (token_hash, user_id, ttl_s),
    )


def consume_link_token(conn: Any, token_hash: str, chat_id: str) -> int | None:
    """Use a token once: returns its user, or None if unknown, used or expired."""
    row = conn.execute(
        """UPDATE telegram_link_tokens SET used_at = now(), chat_id = %s
           WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()
           RETURNING user_id""",
        (chat_id, token_hash),
    ).fetchone()
    return None if row is None else int(row["user_id"])


def save_verified_channel(conn: Any, user_id: int, kind: str, address: str) -> None:
    conn.execute(
        """INSERT INTO notification_channels (user_id, kind, address, verified_at, enabled)
           VALUES (%s, %s, %s, now(), true)
           ON CONFLICT (user_id, kind) DO UPDATE
           SET address = excluded.address, verified_at = now(), enabled = true""",
        (user_id, kind, address),
    )


def record_webhook_event(conn: Any, provider: str, event_id: str, kind: str, payload: Any) -> bool:
    """Remember an inbound event; False when it was seen before (a redelivery)."""
    row = conn.execute(
        """INSERT INTO webhook_events (provider, event_id, event_type, payload, processed_at)
           VALUES (%s, %s, %s, %s, now()) ON CONFLICT DO NOTHING RETURNING event_id""",
        (provider, event_id, kind, json.dumps(payload)),
    ).fetchone()
    return row is not None
