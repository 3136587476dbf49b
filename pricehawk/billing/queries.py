"""SQL of the billing domain: webhook events, subscriptions, Stripe customers, user tiers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pricehawk.billing.events import SubscriptionState

Conn = psycopg.Connection[Any]


def claim_event(conn: Conn, provider: str, event: dict[str, Any]) -> bool:
    """Record a webhook event and lock it; False when it was already processed.

    A concurrent delivery of the same event waits on the primary key until this transaction
    ends, then sees it processed.
    """
    conn.execute(
        """INSERT INTO webhook_events (provider, event_id, event_type, payload)
           VALUES (%s, %s, %s, %s) ON CONFLICT (provider, event_id) DO NOTHING""",
        (provider, event["id"], event.get("type", ""), Jsonb(event)),
    )
    row = conn.execute(
        """SELECT processed_at FROM webhook_events WHERE provider = %s AND event_id = %s
           FOR UPDATE""",
        (provider, event["id"]),
    ).fetchone()
    return row is not None and row["processed_at"] is None


def mark_processed(conn: Conn, provider: str, event_id: str) -> None:
    """Note that an event's effects are committed (with this same transaction)."""
    conn.execute(
        "UPDATE webhook_events SET processed_at = now() WHERE provider = %s AND event_id = %s",
        (provider, event_id),
    )


def customer_of(conn: Conn, user_id: int) -> str | None:
    """The user's own Stripe customer id, if one was created."""
    row = conn.execute(
        "SELECT stripe_customer_id FROM billing_customers WHERE user_id = %s", (user_id,)
    ).fetchone()
    return str(row["stripe_customer_id"]) if row else None


def user_of_customer(conn: Conn, customer_id: str | None) -> int | None:
    """The user a Stripe customer belongs to."""
    if not customer_id:
        return None
    row = conn.execute(
        "SELECT user_id FROM billing_customers WHERE stripe_customer_id = %s", (customer_id,)
    ).fetchone()
    return int(row["user_id"]) if row else None


def link_customer(conn: Conn, user_id: int, customer_id: str) -> str:
    """Remember a user's Stripe customer (the first one stays); return the one kept."""
    conn.execute(
        """INSERT INTO billing_customers (user_id, stripe_customer_id) VALUES (%s, %s)
           ON CONFLICT DO NOTHING""",
        (user_id, customer_id),
    )
    return customer_of(conn, user_id) or customer_id


def user_exists(conn: Conn, user_id: int) -> bool:
    """Whether a live account has this id."""
    row = conn.execute(
        "SELECT 1 FROM users WHERE id = %s AND deleted_at IS NULL", (user_id,)
    ).fetchone()
    return row is not None


def apply_subscription(
    conn: Conn, user_id: int, state: SubscriptionState, state_at: datetime, grace: datetime | None
) -> bool:
    """Insert or update a subscription unless a newer state is already stored; True when
    this state was applied."""
    row = conn.execute(
        """INSERT INTO subscriptions AS s (user_id, stripe_customer_id, stripe_subscription_id,
               tier, billing_cycle, status, current_period_end, grace_until, state_at)
           VALUES (%(user_id)s, %(customer)s, %(sub)s, coalesce(%(tier)s::text, 'free'),
               coalesce(%(cycle)s::text, 'monthly'), %(status)s, %(period_end)s, %(grace)s,
               %(state_at)s)
           ON CONFLICT (stripe_subscription_id) DO UPDATE SET
               stripe_customer_id = coalesce(EXCLUDED.stripe_customer_id, s.stripe_customer_id),
               tier = coalesce(%(tier)s::text, s.tier),
               billing_cycle = coalesce(%(cycle)s::text, s.billing_cycle),
               status = EXCLUDED.status,
               current_period_end = coalesce(EXCLUDED.current_period_end, s.current_period_end),
               -- the grace period starts at the first failure and is not extended by later ones
               grace_until = CASE WHEN EXCLUDED.status = 'past_due'
                                  THEN coalesce(s.grace_until, EXCLUDED.grace_until)
                                  WHEN EXCLUDED.status IN ('active', 'trialing') THEN NULL
                                  ELSE s.grace_until END,
               state_at = EXCLUDED.state_at,
               updated_at = now()
           WHERE s.state_at IS NULL OR s.state_at <= EXCLUDED.state_at
           RETURNING id""",
        {
            "user_id": user_id,
            "customer": state.customer_id,
            "sub": state.subscription_id,
            "tier": state.tier,
            "cycle": state.cycle,
            "status": state.status,
            "period_end": state.current_period_end,
            "grace": grace,
            "state_at": state_at,
        },
    ).fetchone()
    return row is not None


def subscription_user(conn: Conn, subscription_id: str) -> int | None:
    """The user of a known subscription."""
    row = conn.execute(
        "SELECT user_id FROM subscriptions WHERE stripe_subscription_id = %s", (subscription_id,)
    ).fetchone()
    return int(row["user_id"]) if row else None


def apply_invoice(
    conn: Conn,
    subscription_id: str,
    status: str,
    grace: datetime | None,
    period_end: datetime | None,
    state_at: datetime,
) -> int | None:
    """Apply an invoice outcome to a subscription unless a newer state is stored; the
    subscription's user when applied."""
    row = conn.execute(
        """UPDATE subscriptions AS s SET
               status = %(status)s,
               grace_until = CASE WHEN %(status)s = 'past_due'
                                  THEN coalesce(s.grace_until, %(grace)s) ELSE NULL END,
               current_period_end = greatest(s.current_period_end, %(period_end)s),
               state_at = %(state_at)s,
               updated_at = now()
           WHERE stripe_subscription_id = %(sub)s
             AND (s.state_at IS NULL OR s.state_at <= %(state_at)s)
           RETURNING user_id""",
        {
            "status": status,
            "grace": grace,
            "period_end": period_end,
            "state_at": state_at,
            "sub": subscription_id,
        },
    ).fetchone()
    return int(row["user_id"]) if row else None


def subscriptions_of(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    """A user's subscriptions, newest first."""
    return list(
        conn.execute(
            """SELECT stripe_subscription_id, tier, billing_cycle, status, current_period_end,
                      grace_until, state_at
               FROM subscriptions WHERE user_id = %s ORDER BY created_at DESC, id DESC""",
            (user_id,),
        ).fetchall()
    )


def user_email_and_tier(conn: Conn, user_id: int) -> tuple[str, str] | None:
    """(email, tier) of a live account, locked for update."""
    row = conn.execute(
        "SELECT email, tier FROM users WHERE id = %s AND deleted_at IS NULL FOR UPDATE",
        (user_id,),
    ).fetchone()
    return (str(row["email"]), str(row["tier"])) if row else None


def set_user_tier(conn: Conn, user_id: int, tier: str, old: str, why: str) -> None:
    """Change a user's tier and audit the change."""
    conn.execute("UPDATE users SET tier = %s WHERE id = %s", (tier, user_id))
    conn.execute(
        """INSERT INTO audit_log (actor, action, target, before, after)
           VALUES ('stripe', 'tier.changed', %s, %s, %s)""",
        (f"user:{user_id}", Jsonb({"tier": old}), Jsonb({"tier": tier, "why": why})),
    )


def users_with_lapsed_grace(conn: Conn, now: datetime) -> list[int]:
    """Users holding a past-due subscription whose grace period has ended."""
    rows = conn.execute(
        """SELECT DISTINCT s.user_id FROM subscriptions s JOIN users u ON u.id = s.user_id
           WHERE s.grace_until IS NOT NULL AND s.grace_until <= %s AND u.tier <> 'free'""",
        (now,),
    ).fetchall()
    return [int(r["user_id"]) for r in rows]


def mark_canceled(conn: Conn, user_id: int) -> None:
    """Mark a user's subscriptions canceled locally (their customer was deleted)."""
    conn.execute(
        """UPDATE subscriptions SET status = 'canceled', updated_at = now()
           WHERE user_id = %s AND status <> 'canceled'""",
        (user_id,),
    )


def redact_customer_events(conn: Conn, customer_id: str) -> None:
    """Blank the stored payloads of a deleted customer's events (they hold the email); the
    rows stay, so a redelivery is still recognised as a duplicate."""
    conn.execute(
        """UPDATE webhook_events SET payload = jsonb_build_object('redacted', true)
           WHERE provider = 'stripe' AND (payload #>> '{data,object,customer}' = %s
                                          OR payload #>> '{data,object,id}' = %s)""",
        (customer_id, customer_id),
    )
