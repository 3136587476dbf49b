"""What the preferences page does: save filters, connect and verify channels, send tests.

Every function takes the pool and settings (no framework); errors come back as plain words
for the subscriber, never as exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from pricehawk.api_tokens import rate_limit
from pricehawk.db import transaction
from pricehawk.notifications.channels import build_channels
from pricehawk.notifications.models import Message
from pricehawk.notifications.service import send_test
from pricehawk.plans import channel_allowed, next_tier_up
from pricehawk.preferences import queries, verification
from pricehawk.preferences.models import ChannelRow, Preferences
from pricehawk.preferences.validate import discord_webhook_ok, normalise_phone, parse_preferences
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_KINDS = ("email", "sms", "whatsapp", "telegram", "discord")
CHANNEL_LABELS = {
    "email": "Email",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "discord": "Discord",
}
PHONE_KINDS = ("sms", "whatsapp")
# Texts cost money and can be aimed at strangers' numbers ("SMS pumping"): a few an hour.
CODES_PER_HOUR = 5
TESTS_PER_HOUR = 10


@dataclass(frozen=True)
class ChannelState:
    """One channel as the preferences page shows it."""

    kind: str
    label: str
    allowed: bool  # the plan includes it
    row: ChannelRow | None
    pending_number: str | None  # a code was sent to this number

    @property
    def active(self) -> bool:
        return self.row is not None and self.row.verified and self.row.enabled


@dataclass(frozen=True)
class PageData:
    prefs: Preferences | None
    timezone: str
    channels: tuple[ChannelState, ...]
    retailers: list[tuple[str, str]]
    categories: list[str]
    markup_pct: Decimal


@dataclass(frozen=True)
class Step:
    """One onboarding step on the dashboard."""

    key: str
    title: str
    done: bool
    link: str


def onboarding_steps(
    *, email_verified: bool, tier: str, prefs_set: bool, channel_verified: bool, tracked: int
) -> list[Step]:
    """The dashboard checklist, in the order a new subscriber does it."""
    return [
        Step("email", "Confirm your email address", email_verified, "/account"),
        Step("plan", "Choose a plan (Pro hears of glitches instantly)", tier != "free", "/billing"),
        Step("channel", "Connect and verify a channel", channel_verified, "/preferences#channels"),
        Step("prefs", "Tell us which deals you want", prefs_set, "/preferences#filters"),
        Step("track", "Track a product you want to buy (optional)", tracked > 0, "/products"),
    ]


def onboarding_complete(steps: Sequence[Step]) -> bool:
    """The checklist disappears once preferences are set and a channel is verified."""
    done = {s.key for s in steps if s.done}
    return {"prefs", "channel"} <= done


def page_data(pool: Any, user_id: int, tier: str) -> PageData:
    """Everything the preferences page shows."""
    with transaction(pool) as conn:
        prefs, timezone = queries.load(conn, user_id)
        rows = {c.kind: c for c in queries.channels(conn, user_id)}
        pending = queries.pending_codes(conn, user_id)
        retailers, categories = queries.catalogue(conn)
        markup = queries.markup(conn, user_id)
    states = tuple(
        ChannelState(k, CHANNEL_LABELS[k], channel_allowed(tier, k), rows.get(k), pending.get(k))
        for k in CHANNEL_KINDS
    )
    return PageData(prefs, timezone, states, retailers, categories, markup)


def has_verified_channel(pool: Any, user_id: int) -> bool:
    """Whether at least one channel is verified and turned on."""
    with transaction(pool) as conn:
        return any(c.verified and c.enabled for c in queries.channels(conn, user_id))


def save_preferences(
    pool: Any, user_id: int, form: Mapping[str, str], multi: Mapping[str, Sequence[str]]
) -> tuple[Preferences, dict[str, str]]:
    """Validate and save the filters form; nothing is saved when any field is wrong."""
    with transaction(pool) as conn:
        retailers, categories = queries.catalogue(conn)
        prefs, errors = parse_preferences(
            form, multi, known_retailers=[s for s, _ in retailers], known_categories=categories
        )
        if not errors:
            queries.save(conn, user_id, prefs)
    return prefs, errors


def parse_markup(raw: str) -> tuple[Decimal | None, str | None]:
    """A markup percentage from a form field (0 to 1000), or why it is not one."""
    text = raw.strip().rstrip("%").strip()
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        return None, "Enter a percentage like 25."
    if not value.is_finite() or not 0 <= value <= 1000:
        return None, "Enter a percentage from 0 to 1000."
    return value.quantize(Decimal("0.01")), None


def save_markup(pool: Any, user_id: int, raw: str) -> str | None:
    """Save the reseller markup; None when saved, else why not."""
    value, error = parse_markup(raw)
    if value is None:
        return error
    with transaction(pool) as conn:
        queries.set_markup(conn, user_id, value)
    return None


def _not_in_plan(tier: str, kind: str) -> str:
    upgrade = next(
        (p for p in _tiers_up(tier) if kind in p.channels),
        None,
    )
    label = CHANNEL_LABELS.get(kind, kind)
    if upgrade is None:
        return f"{label} alerts are not available."
    return f"{label} alerts come with the {upgrade.name} plan."


def _tiers_up(tier: str) -> list[Any]:
    plans = []
    plan = next_tier_up(tier)
    while plan is not None:
        plans.append(plan)
        plan = next_tier_up(plan.tier)
    return plans


def use_account_email(pool: Any, user_id: int, tier: str, email: str, verified: bool) -> str | None:
    """Send alerts to the account's own address (verified when the account's address is)."""
    if not channel_allowed(tier, "email"):
        return _not_in_plan(tier, "email")
    if not verified:
        return "Confirm your account's email address first (see your account page)."
    with transaction(pool) as conn:
        queries.set_channel(conn, user_id, "email", email, verified=True)
    return None


def send_code(
    pool: Any,
    settings: Settings,
    redis: Any,
    secret: str,
    user_id: int,
    tier: str,
    kind: str,
    raw_number: str,
) -> str | None:
    """Text a 6-digit code to a number for SMS or WhatsApp; None when sent, else why not."""
    if kind not in PHONE_KINDS:
        return "Only SMS and WhatsApp numbers are verified with a code."
    if not channel_allowed(tier, kind):
        return _not_in_plan(tier, kind)
    number = normalise_phone(raw_number)
    if number is None:
        return "Enter the number in international format, like +1 415 555 0100."
    wait = rate_limit(
        redis, settings.redis_prefix, user_id, CODES_PER_HOUR, bucket="codes", window_s=3600
    )
    if wait is not None:
        return f"Too many codes sent; try again in {max(1, wait // 60)} min."
    with transaction(pool) as conn:
        code = verification.start(conn, secret, user_id, kind, number)
    channel = build_channels(settings, (kind,)).get(kind)
    text = f"{code} is your PriceHawk verification code. It expires in 10 minutes."
    result = (
        channel.send(Message(0, kind, number, "PriceHawk verification code", text, kind="test"))
        if channel is not None
        else None
    )
    if result is None or not result.accepted:
        log.warning("verification code for user %s on %s not sent: %s", user_id, kind,
                    result.error if result else "no channel")  # fmt: skip
        with transaction(pool) as conn:
            queries.drop_code(conn, user_id, kind)
        return "We could not send a code to that number right now. Check it and try again."
    return None


def confirm_code(pool: Any, secret: str, user_id: int, kind: str, code: str) -> str | None:
    """Check a code; None when right (the channel is then verified), else why not."""
    if kind not in PHONE_KINDS:
        return "Only SMS and WhatsApp numbers are verified with a code."
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return "Enter the 6 digits we sent you."
    with transaction(pool) as conn:
        return verification.confirm(conn, secret, user_id, kind, code)


def connect_discord(pool: Any, settings: Settings, user_id: int, tier: str, url: str) -> str | None:
    """Check a Discord webhook by posting a test message to it, then save it as verified."""
    if not channel_allowed(tier, "discord"):
        return _not_in_plan(tier, "discord")
    url = url.strip()
    base = urlsplit(settings.discord_api_base)
    if not discord_webhook_ok(url, allowed_hosts=(base.netloc,)) or not url.startswith(
        settings.discord_api_base.rstrip("/") + "/webhooks/"
    ):
        return (
            "That is not a Discord webhook URL. In Discord: Server settings → Integrations → "
            "Webhooks → Copy webhook URL."
        )
    result = send_test(settings, "discord", url)
    if not result.accepted:
        log.info("discord webhook check for user %s failed: %s", user_id, result.error)
        return "Discord did not accept a test message on that webhook. Check the URL."
    with transaction(pool) as conn:
        queries.set_channel(conn, user_id, "discord", url, verified=True)
    return None


def test_alert(
    pool: Any, settings: Settings, redis: Any, user_id: int, kind: str
) -> tuple[bool, str]:
    """Send a test alert on one of the user's verified channels: (sent, what to tell them)."""
    with transaction(pool) as conn:
        row = next((c for c in queries.channels(conn, user_id) if c.kind == kind), None)
    label = CHANNEL_LABELS.get(kind, kind)
    if row is None or not row.verified:
        return False, f"Connect and verify {label} first."
    wait = rate_limit(
        redis, settings.redis_prefix, user_id, TESTS_PER_HOUR, bucket="tests", window_s=3600
    )
    if wait is not None:
        return False, f"Too many test alerts; try again in {max(1, wait // 60)} min."
    result = send_test(settings, kind, row.address)
    if result.accepted:
        return True, f"Test alert sent by {label}. It should arrive within a minute."
    log.warning("test alert for user %s on %s failed: %s", user_id, kind, result.error)
    return False, f"{label} did not accept the test alert. Check the address and try again."


def set_enabled(pool: Any, user_id: int, kind: str, enabled: bool) -> bool:
    """Pause or resume alerts on a channel without forgetting it."""
    with transaction(pool) as conn:
        return queries.set_enabled(conn, user_id, kind, enabled)


def remove_channel(pool: Any, user_id: int, kind: str) -> None:
    """Forget a channel (and any code waiting for it)."""
    with transaction(pool) as conn:
        queries.remove_channel(conn, user_id, kind)
        queries.drop_code(conn, user_id, kind)
