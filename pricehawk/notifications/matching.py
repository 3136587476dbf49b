"""Pure matching rules: who wants a glitch, when they may hear of it, what a tracked alert does.

The fan-out SQL in queries.py is the fast form of `matches` and `quiet_release`; the tests run
both over the same tables so the two never drift apart.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pricehawk.notifications.models import AlertState, AlertStep, GlitchFacts, Preferences

IN_STOCK = ("in_stock", "limited")  # the extraction vocabulary's "can be bought now"


def discount_pct(price: Decimal, baseline: Decimal | None) -> Decimal | None:
    """How far below its usual price a glitch is, in percent (None: no usual price known)."""
    if baseline is None or baseline <= 0:
        return None
    return (1 - price / baseline) * 100


def margin_pct(price: Decimal, baseline: Decimal | None, markup_pct: Decimal) -> Decimal | None:
    """A reseller's margin in percent of the glitch price, reselling at the usual price plus
    their own markup (a negative markup undercuts). None when no usual price is known."""
    if baseline is None or baseline <= 0 or price <= 0:
        return None
    resale = baseline * (1 + markup_pct / 100)
    return (resale - price) / price * 100


def matches(prefs: Preferences, glitch: GlitchFacts) -> bool:
    """Whether a subscriber with `prefs` wants to hear of `glitch` (channels and caps aside)."""
    if prefs.retailers and glitch.retailer not in prefs.retailers:
        return False
    if prefs.categories and glitch.category not in prefs.categories:
        return False
    if prefs.min_price is not None and glitch.price < prefs.min_price:
        return False
    if prefs.max_price is not None and glitch.price > prefs.max_price:
        return False
    if prefs.min_discount_pct > 0:
        discount = discount_pct(glitch.price, glitch.baseline)
        if discount is None or discount < prefs.min_discount_pct:
            return False
    if prefs.min_margin_pct is not None:
        margin = margin_pct(glitch.price, glitch.baseline, prefs.markup_pct)
        if margin is None or margin < prefs.min_margin_pct:
            return False
    return True


def zone(name: str) -> ZoneInfo:
    """The subscriber's time zone; an unknown name counts as UTC (as the fan-out SQL does)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_release(due: datetime, tz: str, start: time | None, end: time | None) -> datetime:
    """`due`, or the end of the quiet window [start, end) it falls in (local time; the window
    may wrap midnight). Same rule as the SQL function notify_quiet_release."""
    if start is None or end is None or start == end:
        return due
    local = due.astimezone(zone(tz))
    clock = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:
        if not (start <= clock < end):
            return due
    elif clock >= start:
        day = day + timedelta(days=1)
    elif clock >= end:
        return due
    released = datetime.combine(day, end, tzinfo=zone(tz))
    return released.astimezone(due.tzinfo)


def local_day_bounds(when: datetime, tz: str) -> tuple[datetime, datetime]:
    """The subscriber's local calendar day holding `when`, as [start, end) instants."""
    local = when.astimezone(zone(tz))
    start = datetime.combine(local.date(), time(0), tzinfo=zone(tz))
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone(tz))
    return start, end


def step_alert(
    alert: AlertState,
    price: Decimal | None,
    availability: str | None,
    lowest_before: Decimal | None,
) -> AlertStep:
    """One observation's effect on a tracked alert. It fires once, then re-arms only when the
    condition has cleared (price back above the target, back out of stock...), so a product
    sitting at its target price alerts once, not on every crawl."""
    in_stock = availability in IN_STOCK if availability is not None else None
    ref = alert.reference_price
    if alert.kind == "back_in_stock":
        if in_stock is None:
            return AlertStep(False, alert.armed, ref)
        if not in_stock:
            return AlertStep(False, True, ref)  # out of stock: armed for the way back
        fire = alert.armed and alert.checked_in_stock is False
        return AlertStep(fire, False if fire else alert.armed, ref, "back in stock" if fire else "")
    if price is None:
        return AlertStep(False, alert.armed, ref)
    if alert.kind == "target_price":
        target = alert.threshold
        if target is None:
            return AlertStep(False, alert.armed, ref)
        if price <= target:
            fire = alert.armed
            return AlertStep(fire, False, ref, f"at or below {target}" if fire else "")
        return AlertStep(False, True, ref)
    if alert.kind == "pct_drop":
        pct = alert.threshold
        if pct is None:
            return AlertStep(False, alert.armed, ref)
        if not alert.armed:
            # fired at `ref`; re-arms once the price climbs back above it, measuring anew
            recovered = ref is not None and price > ref
            return AlertStep(False, recovered, price if recovered else ref)
        peak = max(ref, price) if ref is not None else price
        if price <= peak * (1 - pct / 100):
            return AlertStep(True, False, price, f"down {pct}% from {peak}")
        return AlertStep(False, True, peak)
    if alert.kind == "new_low":
        if not alert.armed:
            # fired at `ref` (the new low); armed again once the price is back above it
            return AlertStep(False, ref is None or price > ref, ref)
        if lowest_before is None:
            return AlertStep(False, True, price)  # the first price is nobody's new low
        if price < lowest_before:
            return AlertStep(True, False, price, f"lowest ever (was {lowest_before})")
        return AlertStep(False, True, lowest_before)
    return AlertStep(False, alert.armed, ref)
