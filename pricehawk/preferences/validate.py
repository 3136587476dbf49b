"""Pure validation of the preferences form and channel addresses: (value, errors by field)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pricehawk.preferences.models import Preferences

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# Discord webhook URLs: https://discord.com/api/webhooks/<id>/<token> (also discordapp.com)
DISCORD_WEBHOOK = re.compile(r"^/api/webhooks/\d{5,25}/[\w-]{20,100}$")


def normalise_phone(raw: str) -> str | None:
    """An E.164 number from what a person types ("+1 (415) 555-0100"), or None."""
    digits = re.sub(r"[\s().-]", "", raw.strip())
    return digits if E164.match(digits) else None


def discord_webhook_ok(url: str, allowed_hosts: Sequence[str] = ("discord.com",)) -> bool:
    """Whether a URL is a Discord webhook (hosts configurable so the sandbox can stand in)."""
    parts = urlsplit(url.strip())
    hosts = {*allowed_hosts, "discordapp.com", "discord.com"}
    # plain http only for a loopback stand-in (the sandbox), never for a real host
    secure = parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost")
    return secure and parts.netloc in hosts and bool(DISCORD_WEBHOOK.match(parts.path))


def _money(raw: str, field: str, errors: dict[str, str]) -> Decimal | None:
    text = raw.strip().lstrip("$€£")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[field] = "Enter an amount like 25 or 99.99."
        return None
    if value < 0 or value > Decimal("10000000"):
        errors[field] = "Enter an amount between 0 and 10,000,000."
        return None
    return value


def _time(raw: str, field: str, errors: dict[str, str]) -> time | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        errors[field] = "Use a time like 22:00."
        return None


def parse_preferences(
    form: Mapping[str, str],
    multi: Mapping[str, Sequence[str]],
    *,
    known_retailers: Sequence[str],
    known_categories: Sequence[str],
) -> tuple[Preferences, dict[str, str]]:
    """Preferences from a submitted form, and a plain-words error per bad field."""
    errors: dict[str, str] = {}
    retailers = tuple(multi.get("retailers", ()))
    if unknown := sorted(set(retailers) - set(known_retailers)):
        errors["retailers"] = f"Unknown retailer: {', '.join(unknown)}."
    categories = tuple(multi.get("categories", ()))
    if unknown := sorted(set(categories) - set(known_categories)):
        errors["categories"] = f"Unknown category: {', '.join(unknown)}."
    min_price = _money(form.get("min_price", ""), "min_price", errors)
    max_price = _money(form.get("max_price", ""), "max_price", errors)
    if min_price is not None and max_price is not None and min_price > max_price:
        errors["max_price"] = "The maximum price must be at least the minimum."
    discount = Decimal(0)
    raw_discount = form.get("min_discount_pct", "").strip()
    if raw_discount:
        try:
            discount = Decimal(raw_discount)
            if not 0 <= discount < 100:
                raise InvalidOperation
        except InvalidOperation:
            errors["min_discount_pct"] = "Enter a percentage from 0 to 99."
            discount = Decimal(0)
    margin = None
    raw_margin = form.get("min_margin_pct", "").strip()
    if raw_margin:
        try:
            margin = Decimal(raw_margin)
            if not 0 <= margin <= 1000:
                raise InvalidOperation
        except InvalidOperation:
            errors["min_margin_pct"] = "Enter a percentage from 0 to 1000."
            margin = None
    quiet_start = _time(form.get("quiet_start", ""), "quiet_start", errors)
    quiet_end = _time(form.get("quiet_end", ""), "quiet_end", errors)
    if (quiet_start is None) != (quiet_end is None) and "quiet_start" not in errors:
        errors["quiet_end"] = "Give both the start and the end of quiet hours, or neither."
    timezone = form.get("timezone", "UTC").strip() or "UTC"
    try:
        ZoneInfo(timezone)
        if timezone not in available_timezones() and timezone != "UTC":
            raise ZoneInfoNotFoundError
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = "Choose a time zone from the list, like Europe/Paris."
        timezone = "UTC"
    cap = None
    raw_cap = form.get("daily_cap", "").strip()
    if raw_cap:
        if raw_cap.isdigit() and 1 <= int(raw_cap) <= 1000:
            cap = int(raw_cap)
        else:
            errors["daily_cap"] = "Enter a whole number from 1 to 1000, or leave it empty."
    prefs = Preferences(
        retailers, categories, min_price, max_price, discount, margin,
        quiet_start, quiet_end, timezone, cap,
    )  # fmt: skip
    return prefs, errors
