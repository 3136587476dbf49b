"""Portal part 2 fixtures: part 1's app, client and Stripe stand-in (imported, not copied),
with settings that also aim every alert channel at its sandbox stand-in, plus helpers to
seed retailers, products, glitches and subscribers of a given tier."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from pricehawk.settings import Settings, load_settings
from sandbox.discord import DiscordStandIn
from sandbox.sendgrid import SendGridStandIn
from sandbox.stripe import StripeServer
from sandbox.twilio import TwilioStandIn
from tests.portal.conftest import (  # noqa: F401 - fixtures reused from part 1
    WEBHOOK_SECRET,
    app,
    client,
    new_user,
    portal_db,
    stripe_server,
)

SMS_FROM = "+15550001111"


@pytest.fixture(scope="session")
def standins() -> Iterator[dict[str, Any]]:
    """The channel providers' stand-ins, shared by the session and reset for each test."""
    servers = {
        "twilio": TwilioStandIn().start(),
        "sendgrid": SendGridStandIn().start(),
        "discord": DiscordStandIn().start(),
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture()
def portal_settings(
    tmp_path: Path,
    portal_db: str,  # noqa: F811 - part 1's fixture
    redis_server_url: str,
    stripe_server: StripeServer,  # noqa: F811
    standins: dict[str, Any],
) -> Settings:
    with psycopg.connect(portal_db, autocommit=True) as conn:
        for table in ("users", "login_throttle", "webhook_events", "audit_log", "retailers",
                      "worker_heartbeats", "crawl_runs", "notification_outbox"):  # fmt: skip
            conn.execute(f"DELETE FROM {table}")
    for server in standins.values():
        server.reset()
    return load_settings(
        {},
        home=tmp_path / "home",
        database_url=portal_db,
        redis_url=redis_server_url,
        redis_prefix=f"pricehawk-test-{uuid.uuid4().hex[:10]}:",
        secret_key="test-secret-key-not-for-production",
        public_base_url="http://portal.test",
        stripe_api_key="sk_test_sandbox",
        stripe_api_base=stripe_server.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        twilio_account_sid="ACtest",
        twilio_auth_token="twilio-token",
        twilio_base_url=standins["twilio"].url,
        twilio_sms_from=SMS_FROM,
        twilio_whatsapp_from=f"whatsapp:{SMS_FROM}",
        discord_api_base=standins["discord"].url + "/api",
    )


def with_sendgrid(application: Flask, standins: dict[str, Any]) -> None:
    """Aim the app's alert emails at the SendGrid stand-in. Account emails keep going to the
    file outbox (its mailer holds the settings it was built with), so links stay readable."""
    svc = application.extensions["pricehawk"]
    svc.settings = dataclasses.replace(
        svc.settings, sendgrid_api_key="SG.test-key", sendgrid_base_url=standins["sendgrid"].url
    )


def db(application: Flask) -> Any:
    """A connection on the app's database (autocommit; dict rows)."""
    from psycopg.rows import dict_row

    url = application.extensions["pricehawk"].settings.database_url
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def set_tier(application: Flask, email: str, tier: str) -> int:
    """Give a user a tier directly (billing has its own tests); returns the user id."""
    with db(application) as conn:
        row = conn.execute(
            "UPDATE users SET tier = %s WHERE lower(email) = lower(%s) RETURNING id", (tier, email)
        ).fetchone()
    assert row is not None, email
    return int(row["id"])


def seed_glitch(
    application: Flask,
    *,
    title: str = "NoiseAway Pro headphones",
    price: str = "29.99",
    baseline: str = "299.99",
    validated_ago: timedelta = timedelta(minutes=5),
    retailer: str = "acme",
    category: str = "Audio",
    status: str = "live",
) -> int:
    """A confirmed glitch on a product of `retailer`; returns the glitch id."""
    now = datetime.now(UTC)
    with db(application) as conn:
        conn.execute(
            """INSERT INTO retailers (slug, name, domains) VALUES (%s, %s, %s)
               ON CONFLICT (slug) DO NOTHING""",
            (retailer, retailer.title(), [f"{retailer}.example"]),
        )
        product = conn.execute(
            """INSERT INTO products (retailer_id, url, title, category, currency, last_price)
               SELECT id, %s, %s, %s, 'USD', %s FROM retailers WHERE slug = %s RETURNING id""",
            (f"https://{retailer}.example/p/{uuid.uuid4().hex[:8]}", title, category,
             Decimal(price), retailer),
        ).fetchone()["id"]  # fmt: skip
        observed = now - validated_ago - timedelta(minutes=1)
        anomaly = conn.execute(
            """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency,
                   confidence, glitch_type, status, validated_at)
               VALUES (%s, %s, %s, %s, 'USD', 0.93, 'decimal_slip_10', 'confirmed', %s)
               RETURNING id""",
            (product, observed, Decimal(price), Decimal(baseline), now - validated_ago),
        ).fetchone()["id"]
        glitch = conn.execute(
            """INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency,
                   observed_at, confidence, glitch_type, reasoning, validator, validated_at,
                   status, ended_at)
               VALUES (%s, %s, %s, %s, 'USD', %s, 0.93, 'decimal_slip_10', 'a decimal slipped',
                       'rules', %s, %s, %s) RETURNING id""",
            (anomaly, product, Decimal(price), Decimal(baseline), observed, now - validated_ago,
             status, None if status == "live" else now),
        ).fetchone()["id"]  # fmt: skip
    return int(glitch)


@pytest.fixture()
def signed_in(client: FlaskClient, app: Flask) -> str:  # noqa: F811
    """A confirmed, signed-in Free subscriber; returns the email."""
    email = f"sub-{uuid.uuid4().hex[:8]}@example.com"
    new_user(client, app, email)
    return email


def plant_anomaly(application: Flask, title: str = "Aurora 65-inch OLED TV") -> int:
    """A fresh, unvalidated price anomaly (a decimal slip) as the crawler would record it."""
    now = datetime.now(UTC)
    with db(application) as conn:
        conn.execute(
            """INSERT INTO retailers (slug, name, domains) VALUES ('acme', 'Acme', '{acme.example}')
               ON CONFLICT (slug) DO NOTHING"""
        )
        product = conn.execute(
            """INSERT INTO products (retailer_id, url, title, category, currency, last_price,
                   last_list_price, availability, last_observed_at)
               SELECT id, %s, %s, 'TV', 'USD', 189.99, 1899.99, 'in_stock', %s
               FROM retailers WHERE slug = 'acme' RETURNING id""",
            (f"https://acme.example/p/{uuid.uuid4().hex[:8]}", title, now),
        ).fetchone()["id"]
        anomaly = conn.execute(
            """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency,
                   discount, confidence, glitch_type, reasons)
               VALUES (%s, %s, 189.99, 1899.99, 'USD', 0.9, 0.97, 'decimal_slip_10',
                       '{"price is a tenth of its usual level"}') RETURNING id""",
            (product, now),
        ).fetchone()["id"]
    return int(anomaly)
