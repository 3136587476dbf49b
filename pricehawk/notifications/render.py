"""Rendering outbox rows into messages (email bodies from the Jinja2 templates here)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pricehawk.notifications.matching import discount_pct
from pricehawk.notifications.models import DueRow, Message
from pricehawk.notifications.policy import describe_age
from pricehawk.notifications.tokens import unsubscribe_token
from pricehawk.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"

_ALERT_TITLES = {
    "target_price": "reached your target price",
    "pct_drop": "dropped in price",
    "new_low": "is at its lowest price yet",
    "back_in_stock": "is back in stock",
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment (HTML autoescaped; text templates are not)."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )


def money(value: Decimal | None, currency: str) -> str:
    return "" if value is None else f"{value:,.2f} {currency}".strip()


def unsubscribe_url(settings: Settings, user_id: int | None, kind: str) -> str | None:
    """The signed one-click link that turns this channel off (None without a user or key)."""
    if user_id is None or not settings.secret_key:
        return None
    token = unsubscribe_token(settings.secret_key, user_id, kind)
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe/{token}"


def render(row: DueRow, settings: Settings, now: datetime, address: str) -> Message:
    """The message for one outbox row on its channel."""
    if row.variant == "teaser":
        return _teaser(row, settings, now, address)
    title = row.product_title or row.product_url
    live = describe_age((now - row.observed_at).total_seconds()) if row.observed_at else ""
    facts: list[tuple[str, str]] = [("Price", money(row.price, row.currency))]
    if row.alert_kind:
        subject = f"{title} {_ALERT_TITLES.get(row.alert_kind, 'changed')}"
        if row.alert_kind == "target_price" and row.alert_threshold is not None:
            facts.append(("Your target", money(row.alert_threshold, row.currency)))
        if row.alert_kind in ("pct_drop", "new_low") and row.alert_reference is not None:
            facts.append(("Was", money(row.alert_reference, row.currency)))
        facts.append(("Retailer", row.retailer_name or row.retailer))
    else:
        subject = f"Price glitch: {title}"
        if row.baseline is not None:
            facts.append(("Usually", money(row.baseline, row.currency)))
            off = discount_pct(row.price or Decimal(0), row.baseline)
            if off is not None:
                facts.append(("Discount", f"{off:.0f}%"))
        facts.append(("Retailer", row.retailer_name or row.retailer))
        if row.glitch_type:
            facts.append(("Kind", row.glitch_type.replace("_", " ")))
        facts.append(("Live for", live))
    unsub = unsubscribe_url(settings, row.user_id, row.channel)
    return _message(row.id, row.channel, address, subject, title, row, facts, unsub, settings)


def _message(
    outbox_id: int,
    channel: str,
    address: str,
    subject: str,
    title: str,
    row: DueRow,
    facts: list[tuple[str, str]],
    unsub: str | None,
    settings: Settings,
) -> Message:
    context = {
        "subject": subject,
        "title": title,
        "retailer": row.retailer_name or row.retailer,
        "facts": facts,
        "url": row.product_url,
        "unsubscribe_url": unsub,
        "base_url": settings.public_base_url.rstrip("/"),
    }
    text = "\n".join(
        [f"{title} at {context['retailer']}"]
        + [f"{k}: {v}" for k, v in facts]
        + ([row.product_url] if row.product_url else [])
    )
    html = None
    if channel == "email":
        env = environment()
        text = env.get_template("deal.txt").render(context)
        html = env.get_template("deal.html").render(context)
    return Message(
        outbox_id,
        channel,
        address,
        subject,
        text,
        url=row.product_url or None,
        html=html,
        title=subject,
        facts=tuple(facts),
        unsubscribe_url=unsub,
        kind="alert" if row.alert_kind else "deal",
    )


def _teaser(row: DueRow, settings: Settings, now: datetime, address: str) -> Message:
    """Public teaser: retailer, category and how long ago Pro members were told — no link, no
    price, nothing to act on before the subscribers who pay for it."""
    if row.pro_told_at is not None:
        told = f"Pro members were told {describe_age((now - row.pro_told_at).total_seconds())} ago."
    else:
        told = "Pro members are being told right now."
    what = f"a {row.category} price glitch" if row.category else "a price glitch"
    retailer = row.retailer_name or row.retailer
    text = f"PriceHawk spotted {what} at {retailer}. {told} Full details here later."
    facts = (("Retailer", retailer), ("Category", row.category or "—"), ("Pro members", told))
    return Message(
        row.id,
        row.channel,
        address,
        f"Glitch spotted at {retailer}",
        text,
        title=f"Glitch spotted at {retailer}",
        facts=facts,
        kind="teaser",
    )


def welcome_message(settings: Settings, email: str) -> Message:
    """The sign-up welcome email."""
    env = environment()
    context = {
        "subject": "Welcome to PriceHawk",
        "base_url": settings.public_base_url.rstrip("/"),
        "unsubscribe_url": None,
    }
    return Message(
        0,
        "email",
        email,
        "Welcome to PriceHawk",
        env.get_template("welcome.txt").render(context),
        html=env.get_template("welcome.html").render(context),
        title="Welcome to PriceHawk",
        kind="welcome",
    )


def probe_message(settings: Settings, kind: str, address: str) -> Message:
    """A one-off message that proves a channel works."""
    text = "This is a test alert from PriceHawk: this channel works."
    html = None
    if kind == "email":
        html = (
            environment()
            .get_template("welcome.html")
            .render({"subject": "PriceHawk test alert", "base_url": settings.public_base_url})
        )
    return Message(
        0,
        kind,
        address,
        "PriceHawk test alert",
        text,
        html=html,
        title="PriceHawk test alert",
        facts=(("Status", "this channel works"),),
        kind="test",
    )
