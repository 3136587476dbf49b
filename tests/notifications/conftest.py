"""Fixtures for notification tests: provider stand-ins, settings aimed at them, data factories."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pricehawk.settings import Settings, load_settings
from sandbox.discord import DiscordStandIn
from sandbox.sendgrid import SendGridStandIn
from sandbox.telegram import TelegramStandIn
from sandbox.twilio import TwilioStandIn


@dataclasses.dataclass
class Providers:
    sendgrid: SendGridStandIn
    twilio: TwilioStandIn
    telegram: TelegramStandIn
    discord: DiscordStandIn

    def all(self) -> list[Any]:
        return [self.sendgrid, self.twilio, self.telegram, self.discord]


@pytest.fixture(scope="session")
def _provider_servers() -> Iterator[Providers]:
    p = Providers(SendGridStandIn(), TwilioStandIn(), TelegramStandIn(), DiscordStandIn())
    for s in p.all():
        s.start()
    yield p
    for s in p.all():
        s.stop()


@pytest.fixture()
def providers(_provider_servers: Providers) -> Iterator[Providers]:
    """All four provider stand-ins on free loopback ports, with nothing recorded yet."""
    for s in _provider_servers.all():
        s.reset()
    yield _provider_servers
    for s in _provider_servers.all():
        s.reset()


def aim(settings: Settings, p: Providers, **extra: Any) -> Settings:
    """Settings whose channels talk to the stand-ins, unthrottled, with a short timeout."""
    values: dict[str, Any] = {
        "sendgrid_api_key": p.sendgrid.api_key,
        "sendgrid_base_url": p.sendgrid.url,
        "twilio_account_sid": p.twilio.account_sid,
        "twilio_auth_token": p.twilio.auth_token,
        "twilio_base_url": p.twilio.url,
        "twilio_sms_from": "+15550001111",
        "twilio_whatsapp_from": "+15550002222",
        "telegram_bot_token": p.telegram.token,
        "telegram_api_base": p.telegram.url,
        "telegram_webhook_secret": "tg-webhook-secret",
        "discord_api_base": p.discord.url + "/api",
        "channel_rates_raw": "",
        "send_timeout_s": 1.5,
        "public_base_url": "https://pricehawk.test",
    }
    values.update(extra)
    return dataclasses.replace(settings, **values)


@pytest.fixture()
def provider_settings(settings: Settings, providers: Providers) -> Settings:
    """Settings with a database of the test's own, aimed at the stand-ins."""
    return aim(settings, providers)


@pytest.fixture()
def channel_settings(tmp_path: Path, providers: Providers) -> Settings:
    """Settings aimed at the stand-ins, with no database (channel-only tests)."""
    base = load_settings({}, home=tmp_path / "home", secret_key="test-secret")
    return aim(base, providers)


# --- data factories (plain SQL, on any connection) ---------------------------------------------


def make_product(
    conn: Any,
    *,
    retailer: str = "shop",
    category: str | None = "electronics",
    price: Decimal = Decimal("100"),
    observed_at: str = "now()",
    url: str | None = None,
    availability: str = "in_stock",
) -> int:
    conn.execute(
        "INSERT INTO retailers (slug, name) VALUES (%s, %s) ON CONFLICT (slug) DO NOTHING",
        (retailer, retailer.title()),
    )
    row = conn.execute(
        f"""INSERT INTO products (retailer_id, url, title, category, currency, last_price,
                                  availability, last_observed_at)
            SELECT id, %s, %s, %s, 'USD', %s, %s, {observed_at} FROM retailers WHERE slug = %s
            RETURNING id""",
        (
            url or f"https://{retailer}.test/p/{uuid.uuid4().hex[:12]}",
            "Gadget [Pro] (2024) #1 best_seller!",
            category,
            price,
            availability,
            retailer,
        ),
    ).fetchone()
    return int(row["id"])


def make_glitch(
    conn: Any,
    product_id: int,
    *,
    price: Decimal = Decimal("10"),
    baseline: Decimal | None = Decimal("100"),
    validated_at: str = "now()",
    fanned_out: bool = False,
) -> int:
    anomaly = conn.execute(
        """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency, confidence,
                                  glitch_type, status)
           VALUES (%s, clock_timestamp(), %s, %s, 'USD', 0.9, 'decimal_error', 'confirmed')
           RETURNING id, observed_at""",
        (product_id, price, baseline),
    ).fetchone()
    row = conn.execute(
        f"""INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency, observed_at,
                                  confidence, glitch_type, validator, validated_at, fanned_out_at)
            VALUES (%s, %s, %s, %s, 'USD', %s, 0.9, 'decimal_error', 'rules', {validated_at},
                    CASE WHEN %s THEN now() END)
            RETURNING id""",
        (anomaly["id"], product_id, price, baseline, anomaly["observed_at"], fanned_out),
    ).fetchone()
    return int(row["id"])


def make_user(
    conn: Any,
    tier: str = "pro",
    channels: dict[str, str] | None = None,
    *,
    timezone: str = "UTC",
    markup_pct: Decimal = Decimal(0),
    prefs: dict[str, Any] | None = None,
) -> int:
    row = conn.execute(
        """INSERT INTO users (email, tier, timezone, markup_pct, email_verified_at)
           VALUES (%s, %s, %s, %s, now()) RETURNING id""",
        (f"u-{uuid.uuid4().hex[:12]}@example.test", tier, timezone, markup_pct),
    ).fetchone()
    user_id = int(row["id"])
    for kind, address in (channels or {"file": f"user-{user_id}"}).items():
        conn.execute(
            """INSERT INTO notification_channels (user_id, kind, address, verified_at)
               VALUES (%s, %s, %s, now())""",
            (user_id, kind, address),
        )
    if prefs is not None:
        cols = ["user_id", *prefs]
        conn.execute(
            f"INSERT INTO notification_preferences ({', '.join(cols)})"
            f" VALUES ({', '.join(['%s'] * len(cols))})",
            (user_id, *prefs.values()),
        )
    return user_id


def outbox(conn: Any, **where: Any) -> list[dict[str, Any]]:
    clause = " AND ".join(f"{k} = %s" for k in where) or "true"
    return [
        dict(r)
        for r in conn.execute(
            f"SELECT * FROM notification_outbox WHERE {clause} ORDER BY id", tuple(where.values())
        ).fetchall()
    ]
