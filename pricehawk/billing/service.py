"""Stripe webhook handling: idempotent by event id, and the latest state (by event.created)
wins whatever order events arrive in. The tier changes here, never through a success URL.

The portal only verifies the signature and calls `handle_event` (verify, then hand off).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import ConnectionPool

from pricehawk.accounts import emails as mails
from pricehawk.accounts.models import Email
from pricehawk.billing import events as ev
from pricehawk.billing import queries as q
from pricehawk.db import transaction
from pricehawk.settings import Settings

log = logging.getLogger(__name__)
Pool = ConnectionPool[Any]

HANDLED = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)


@dataclass
class Handled:
    """What handling one event did: `duplicate` (seen before), `action` (for logs and
    tests), and emails to send once the transaction has committed."""

    duplicate: bool = False
    action: str = "ignored"
    emails: list[Email] = field(default_factory=list)


def price_ids(settings: Settings) -> dict[str, str]:
    """Stripe price id per `<tier>_<cycle>`: STRIPE_PRICES, else the sandbox's fixed ids."""
    configured = settings.stripe_prices
    if configured:
        return configured
    return {f"{t}_{c}": f"price_{t}_{c}" for t in ev.TIER_ORDER[1:] for c in ev.CYCLES}


def handle_event(pool: Pool, settings: Settings, event: Mapping[str, Any]) -> Handled:
    """Apply one verified Stripe event exactly once (raises when it could not be recorded,
    so the caller answers 5xx and Stripe retries)."""
    if not isinstance(event.get("id"), str) or not isinstance(event.get("data"), Mapping):
        raise ValueError("not a Stripe event")
    state_at = ev.event_time(event)
    obj = event["data"].get("object")
    if not isinstance(obj, Mapping):
        raise ValueError("event has no data.object")
    kind = str(event.get("type", ""))
    with transaction(pool) as conn:
        if not q.claim_event(conn, "stripe", dict(event)):
            return Handled(duplicate=True, action="duplicate")
        handled = _dispatch(conn, settings, kind, obj, state_at)
        q.mark_processed(conn, "stripe", str(event["id"]))
    log.info("stripe event %s (%s): %s", event["id"], kind, handled.action)
    return handled


def _dispatch(
    conn: q.Conn, settings: Settings, kind: str, obj: Mapping[str, Any], state_at: datetime
) -> Handled:
    prices = price_ids(settings)
    match kind:
        case "checkout.session.completed":
            return _checkout_completed(conn, obj, state_at)
        case "customer.subscription.created" | "customer.subscription.updated":
            return _subscription(conn, ev.subscription_state(obj, prices), state_at)
        case "customer.subscription.deleted":
            return _subscription(conn, ev.subscription_state(obj, prices, "canceled"), state_at)
        case "invoice.paid":
            return _invoice(conn, settings, obj, state_at, paid=True)
        case "invoice.payment_failed":
            return _invoice(conn, settings, obj, state_at, paid=False)
    return Handled(action=f"ignored {kind}")


def _checkout_completed(conn: q.Conn, obj: Mapping[str, Any], state_at: datetime) -> Handled:
    ref = obj.get("client_reference_id")
    user_id = int(ref) if isinstance(ref, str) and ref.isdigit() else None
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    sub_id = obj.get("subscription")
    sub_id = sub_id.get("id") if isinstance(sub_id, Mapping) else sub_id
    if user_id is None or not q.user_exists(conn, user_id):
        return Handled(action="ignored: unknown user")
    if customer:
        q.link_customer(conn, user_id, customer)
    if not isinstance(sub_id, str) or obj.get("mode") != "subscription":
        return Handled(action="checkout without subscription")
    raw_metadata = obj.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    tier = metadata.get("tier")
    cycle = metadata.get("cycle")
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    state = ev.SubscriptionState(
        subscription_id=sub_id,
        customer_id=customer,
        user_id=user_id,
        tier=tier if tier in ev.TIER_ORDER else None,
        cycle=cycle if cycle in ev.CYCLES else None,
        status="active" if paid else "incomplete",
        current_period_end=None,
    )
    return _subscription(conn, state, state_at)


def _subscription(conn: q.Conn, state: ev.SubscriptionState, state_at: datetime) -> Handled:
    user_id = state.user_id
    if user_id is not None and not q.user_exists(conn, user_id):
        user_id = None
    user_id = (
        user_id
        or q.subscription_user(conn, state.subscription_id)
        or q.user_of_customer(conn, state.customer_id)
    )
    if user_id is None:
        return Handled(action="ignored: unknown customer")
    if state.customer_id:
        q.link_customer(conn, user_id, state.customer_id)
    grace = ev.grace_until(state.status, state_at)
    if not q.apply_subscription(conn, user_id, state, state_at, grace):
        return Handled(action="stale: a newer state is stored")
    tier = refresh_tier(conn, user_id, datetime.now(UTC), f"subscription {state.status}")
    return Handled(action=f"subscription {state.status}; tier {tier}")


def _invoice(
    conn: q.Conn, settings: Settings, obj: Mapping[str, Any], state_at: datetime, paid: bool
) -> Handled:
    sub_id = ev.invoice_subscription_id(obj)
    if sub_id is None:
        return Handled(action="ignored: invoice without subscription")
    status = "active" if paid else "past_due"
    grace = ev.grace_until(status, state_at)
    user_id = q.apply_invoice(
        conn, sub_id, status, grace, ev.invoice_period_end(obj) if paid else None, state_at
    )
    if user_id is None:
        return Handled(action="stale or unknown subscription")
    tier = refresh_tier(
        conn, user_id, datetime.now(UTC), "invoice paid" if paid else "payment failed"
    )
    emails: list[Email] = []
    if not paid:
        found = q.user_email_and_tier(conn, user_id)
        if found:
            emails.append(mails.payment_failed_email(settings, found[0], ev.GRACE_PERIOD.days))
    return Handled(action=f"invoice {'paid' if paid else 'failed'}; tier {tier}", emails=emails)


def refresh_tier(conn: q.Conn, user_id: int, now: datetime, why: str) -> str:
    """Recompute a user's tier from their subscriptions and store it if it changed."""
    found = q.user_email_and_tier(conn, user_id)
    if found is None:
        return "free"
    subs = q.subscriptions_of(conn, user_id)
    tier = ev.best_tier(
        ev.entitled_tier(s["status"], s["tier"], s["grace_until"], now) for s in subs
    )
    if tier != found[1]:
        q.set_user_tier(conn, user_id, tier, found[1], why)
    return tier


def expire_grace(pool: Pool, now: datetime | None = None) -> list[int]:
    """Drop to Free every user whose past-due grace period has ended; their ids."""
    now = now or datetime.now(UTC)
    changed = []
    with transaction(pool) as conn:
        for user_id in q.users_with_lapsed_grace(conn, now):
            if refresh_tier(conn, user_id, now, "grace period ended") == "free":
                changed.append(user_id)
    return changed


def billing_summary(pool: Pool, user_id: int) -> dict[str, Any]:
    """What /billing shows: the current subscription (if any) and whether a customer exists."""
    with transaction(pool) as conn:
        subs = q.subscriptions_of(conn, user_id)
        customer = q.customer_of(conn, user_id)
    return {"subscription": subs[0] if subs else None, "has_customer": customer is not None}
