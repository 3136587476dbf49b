"""SQL for deals and a subscriber's notification history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pricehawk.deals.models import Deal


def visible_deals(conn: Any, delay: timedelta, now: datetime, limit: int = 50) -> list[Deal]:
    """Confirmed glitches a tier with `delay` may see at `now`, newest first."""
    rows = conn.execute(
        """
        SELECT g.id AS glitch_id, g.product_id, p.title, p.url, p.image_url, r.slug AS retailer,
               p.category, g.price, g.baseline, g.currency, g.glitch_type, g.confidence,
               g.observed_at, g.validated_at, g.validated_at + %(delay)s AS visible_at,
               g.ended_at, g.status
        FROM glitches g
        JOIN products p ON p.id = g.product_id
        JOIN retailers r ON r.id = p.retailer_id
        WHERE g.status <> 'withdrawn' AND g.validated_at + %(delay)s <= %(now)s
        ORDER BY g.validated_at DESC
        LIMIT %(limit)s
        """,
        {"delay": delay, "now": now, "limit": limit},
    ).fetchall()
    return [Deal(**r) for r in rows]


def notification_history(conn: Any, user_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The user's notifications, newest first, with delivery status."""
    rows = conn.execute(
        """
        SELECT o.id, o.channel, o.status, o.due_at, o.sent_at, o.last_error, o.created_at,
               COALESCE(p.title, p.url) AS product, g.price, g.currency
        FROM notification_outbox o
        LEFT JOIN glitches g ON g.id = o.glitch_id
        LEFT JOIN alert_events e ON e.id = o.alert_event_id
        LEFT JOIN tracked_alerts a ON a.id = e.tracked_alert_id
        LEFT JOIN tracked_products t ON t.id = a.tracked_product_id
        LEFT JOIN products p ON p.id = COALESCE(g.product_id, t.product_id)
        WHERE o.user_id = %s
        ORDER BY o.created_at DESC, o.id DESC LIMIT %s
        """,
        (user_id, limit),
    ).fetchall()
    return [dict(r) for r in rows]
