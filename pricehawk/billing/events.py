"""Reading Stripe objects, and deciding tiers from subscription states (pure).

Stripe changed several shapes in API version 2025-03-31 ("basil"):
  - invoice.subscription moved to invoice.parent.subscription_details.subscription (and each
    line's subscription to line.parent.subscription_item_details.subscription);
  - subscription.current_period_end moved to each subscription item.
Both the older and the newer shapes are read here, whichever the account's API version sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TIER_ORDER = ("free", "starter", "pro", "elite")
CYCLES = ("monthly", "annual")
# A renewal that fails keeps the plan this long (Stripe retries the card meanwhile); then
# the subscriber drops to Free until a payment succeeds.
GRACE_PERIOD = timedelta(days=7)
# statuses that keep the paid tier (past_due only within the grace period)
ACTIVE_STATUSES = ("active", "trialing")


@dataclass(frozen=True)
class SubscriptionState:
    subscription_id: str
    customer_id: str | None
    user_id: int | None
    tier: str | None
    cycle: str | None
    status: str
    current_period_end: datetime | None


def _ts(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def _id(value: Any) -> str | None:
    """An object's id whether Stripe sent it as a string or expanded it."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def plan_for_price(price_id: str | None, prices: Mapping[str, str]) -> tuple[str, str] | None:
    """(tier, cycle) of a Stripe price id, from STRIPE_PRICES (`pro_monthly=price_...`)."""
    for name, pid in prices.items():
        if pid == price_id:
            tier, _, cycle = name.partition("_")
            if tier in TIER_ORDER and cycle in CYCLES:
                return tier, cycle
    return None


def _items(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    return [i for i in data if isinstance(i, Mapping)] if isinstance(data, list) else []


def subscription_state(
    sub: Mapping[str, Any], prices: Mapping[str, str], status: str | None = None
) -> SubscriptionState:
    """The state carried by a Subscription object (either API shape)."""
    items = _items(sub)
    price_id = None
    period_end = _ts(sub.get("current_period_end"))  # before 2025-03-31
    if items:
        price = items[0].get("price") or items[0].get("plan")
        price_id = _id(price)
        period_end = period_end or _ts(items[0].get("current_period_end"))  # 2025 shape
    raw_metadata = sub.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    plan = plan_for_price(price_id, prices)
    tier, cycle = plan if plan else (metadata.get("tier"), metadata.get("cycle"))
    return SubscriptionState(
        subscription_id=str(sub["id"]),
        customer_id=_id(sub.get("customer")),
        user_id=_int(metadata.get("user_id")),
        tier=tier if tier in TIER_ORDER else None,
        cycle=cycle if cycle in CYCLES else None,
        status=status or str(sub.get("status") or "incomplete"),
        current_period_end=period_end,
    )


def invoice_subscription_id(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills, from the older or the 2025 invoice shape."""
    found = _id(invoice.get("subscription"))  # before 2025-03-31
    if found:
        return found
    parent = invoice.get("parent")
    if isinstance(parent, Mapping):
        details = parent.get("subscription_details")
        if isinstance(details, Mapping) and (found := _id(details.get("subscription"))):
            return found
    lines = invoice.get("lines")
    for line in lines.get("data", []) if isinstance(lines, Mapping) else []:
        if not isinstance(line, Mapping):
            continue
        if found := _id(line.get("subscription")):
            return found
        lp = line.get("parent")
        if isinstance(lp, Mapping):
            details = lp.get("subscription_item_details")
            if isinstance(details, Mapping) and (found := _id(details.get("subscription"))):
                return found
    return None


def invoice_period_end(invoice: Mapping[str, Any]) -> datetime | None:
    """The end of the period an invoice pays for (its latest line's period end)."""
    lines = invoice.get("lines")
    ends = []
    for line in lines.get("data", []) if isinstance(lines, Mapping) else []:
        period = line.get("period") if isinstance(line, Mapping) else None
        if isinstance(period, Mapping) and (end := _ts(period.get("end"))):
            ends.append(end)
    return max(ends) if ends else _ts(invoice.get("period_end"))


def grace_until(status: str, state_at: datetime) -> datetime | None:
    """When a subscription in `status` (as of `state_at`) loses its tier, if it is in grace."""
    return state_at + GRACE_PERIOD if status == "past_due" else None


def entitled_tier(status: str, tier: str, grace: datetime | None, now: datetime) -> str:
    """The tier a subscription grants now: its plan while active, or past due within the
    grace period; Free otherwise (canceled, unpaid, incomplete, paused, grace over)."""
    if tier not in TIER_ORDER:
        return "free"
    if status in ACTIVE_STATUSES:
        return tier
    if status == "past_due" and (grace is None or grace > now):
        return tier
    return "free"


def best_tier(tiers: Iterable[str]) -> str:
    """The highest of some tiers (Free when there are none)."""
    return max(tiers, key=TIER_ORDER.index, default="free")


def event_time(event: Mapping[str, Any]) -> datetime:
    """When Stripe created an event (the order in which states are applied)."""
    created = _ts(event.get("created"))
    if created is None:
        raise ValueError("event has no created timestamp")
    return created
