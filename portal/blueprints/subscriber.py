"""Portal part 2: registers the subscriber pages (dashboard, preferences, products, the JSON
API and its tokens) and the template filters they share, with one call from create_app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Flask

from portal import web
from pricehawk.deals.models import describe_duration
from pricehawk.preferences.service import CHANNEL_LABELS

# Messages after a redirect, shown by base.html like part 1's (fixed codes, nothing injected).
NOTICES = {
    "prefs_saved": "Your deal preferences are saved.",
    "email_on": "Alerts will go to your account's email address.",
    "code_sent": "We sent a 6-digit code. Enter it below to verify the number.",
    "channel_verified": "Verified: alerts can now reach you there.",
    "discord_connected": "Discord is connected; we posted a test message to your webhook.",
    "channel_removed": "That channel was removed.",
    "channel_paused": "Alerts on that channel are paused.",
    "channel_resumed": "Alerts on that channel are back on.",
    "test_sent": "Test alert sent. It should arrive within a minute.",
    "tracked": "Now tracking that product. Add an alert to hear when its price moves.",
    "alert_saved": "Alert saved.",
    "alert_removed": "Alert removed.",
    "product_paused": "Alerts for this product are paused.",
    "product_resumed": "Alerts for this product are back on.",
    "product_removed": "The product is no longer tracked.",
    "markup_saved": "Markup saved; profits below use it.",
    "token_revoked": "The token was revoked; requests with it now fail.",
}


def money(value: Decimal | None, currency: str | None = "") -> str:
    """'1,299.99 USD' (empty for no value)."""
    if value is None:
        return "—"
    return f"{value:,.2f} {currency or ''}".strip()


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'5 min ago', '3 h ago', '2 days ago'."""
    if when is None:
        return "never"
    span = (now or datetime.now(UTC)) - when
    if span < timedelta(minutes=1):
        return "just now"
    return f"{describe_duration(span)} ago"


# Outbox states in words a subscriber reads.
DELIVERY = {
    "pending": "scheduled",
    "sending": "sending",
    "sent": "delivered",
    "failed": "failed",
    "dead": "failed",
    "review": "checking",
    "expired": "deal ended first",
    "cancelled": "cancelled",
}


GLITCH_LABELS = {
    "decimal_slip_10": "Decimal slip (÷10)",
    "decimal_slip_100": "Decimal slip (÷100)",
    "decimal_slip_1000": "Decimal slip (÷1000)",
    "wrong_currency": "Wrong currency",
    "swapped_digits": "Swapped digits",
    "dropped_digit": "Dropped digit",
    "unit_price": "Unit price shown as the price",
    "below_market": "Far below market",
    "extreme_discount": "Extreme discount",
}


def number(value: Decimal | None) -> str:
    """50.00 -> '50', 12.50 -> '12.5' (form values and percentages)."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def register(app: Flask) -> None:
    """Register part 2's blueprints and filters on the portal app."""
    from portal.blueprints import api, dashboard, developer, preferences, products

    web.NOTICES.update(NOTICES)
    app.add_template_filter(money, "money")
    app.add_template_filter(ago, "ago")
    app.add_template_filter(describe_duration, "duration")
    app.add_template_filter(lambda kind: CHANNEL_LABELS.get(kind, kind), "channel_name")
    app.add_template_filter(lambda status: DELIVERY.get(status, status), "delivery")
    app.add_template_filter(number, "num")
    app.add_template_filter(
        lambda kind: GLITCH_LABELS.get(kind, kind.replace("_", " ").capitalize()), "glitch"
    )
    for bp in (dashboard.bp, preferences.bp, products.bp, api.bp, developer.bp):
        app.register_blueprint(bp)
