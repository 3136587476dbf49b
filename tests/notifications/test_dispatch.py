"""Dispatch end to end: fan-out, claim, liveness re-check, send through the stand-ins, record."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from prometheus_client import REGISTRY

from pricehawk.db import transaction
from pricehawk.notifications.service import (
    Dispatcher,
    cancel_outbox_row,
    dispatch_due,
    fan_out_pending,
    retry_outbox_row,
)
from pricehawk.settings import Settings
from tests.notifications.conftest import Providers, make_glitch, make_product, make_user, outbox


def _rows(pool: Any, **where: Any) -> list[dict[str, Any]]:
    with transaction(pool) as conn:
        return outbox(conn, **where)


def _due_now(pool: Any) -> None:
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE notification_outbox SET next_attempt_at = now() WHERE status = 'pending'"
        )


def _sent_value(channel: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "pricehawk_notifications_sends_total", {"channel": channel, "outcome": outcome}
    )
    return value or 0.0


def test_every_channel_delivers_and_records_the_provider_id(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    with transaction(pool) as conn:
        glitch = make_glitch(conn, make_product(conn))
        user = make_user(
            conn,
            "elite",
            {
                "email": "e@x.test",
                "sms": "+15550000001",
                "whatsapp": "+15550000002",
                "telegram": "5001",
                "discord": providers.discord.webhook_url(),
            },
        )
    before = _sent_value("email", "sent")
    assert fan_out_pending(pool, provider_settings) == 5
    counts = dispatch_due(pool, provider_settings)
    assert counts == {"sent": 5}
    rows = _rows(pool, user_id=user)
    assert all(r["status"] == "sent" and r["provider_message_id"] for r in rows)
    assert all(r["glitch_id"] == glitch for r in rows)
    assert len(providers.twilio.deliveries()) == 2
    assert len(providers.sendgrid.deliveries()) == 1
    text = providers.telegram.deliveries()[0].data["text"]
    assert "Live for" in text and "90%" in text
    mail = providers.sendgrid.deliveries()[0].data
    assert "/unsubscribe/" in mail["headers"]["List-Unsubscribe"]
    assert _sent_value("email", "sent") == before + 1


def test_throttled_send_is_retried_after_backoff_and_sent_once(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn))
        make_user(conn, "pro", {"email": "t@x.test"})
    fan_out_pending(pool, provider_settings)
    providers.sendgrid.script("429")
    assert dispatch_due(pool, provider_settings) == {"pending": 1}
    [row] = _rows(pool)
    assert row["attempts"] == 1 and "429" in row["last_error"]
    assert dispatch_due(pool, provider_settings) == {}  # backing off: not due yet
    _due_now(pool)
    assert dispatch_due(pool, provider_settings) == {"sent": 1}
    assert _rows(pool)[0]["attempts"] == 2
    assert len(providers.sendgrid.deliveries()) == 1


def test_refusals_fail_and_repeated_errors_dead_letter(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    settings = dataclasses.replace(provider_settings, dispatch_max_attempts=2)
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn))
        refused = make_user(conn, "pro", {"telegram": "6001"})
        flaky = make_user(conn, "pro", {"sms": "+15550000009"})
    fan_out_pending(pool, settings)
    providers.telegram.script("400")
    providers.twilio.script("500", "500")
    dispatch_due(pool, settings)
    _due_now(pool)
    dispatch_due(pool, settings)
    assert _rows(pool, user_id=refused)[0]["status"] == "failed"
    [dead] = _rows(pool, user_id=flaky)
    assert (dead["status"], dead["attempts"]) == ("dead", 2)
    assert providers.twilio.deliveries() == []


def test_unknown_outcome_goes_to_review_until_a_person_decides(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    settings = dataclasses.replace(provider_settings, send_timeout_s=0.3)
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn))
        make_user(conn, "pro", {"telegram": "7001"})
    fan_out_pending(pool, settings)
    providers.telegram.script("hang")
    assert dispatch_due(pool, settings) == {"review": 1}
    providers.telegram.release_hung()
    _due_now(pool)
    assert dispatch_due(pool, settings) == {}
    [row] = _rows(pool)
    assert row["status"] == "review"
    assert retry_outbox_row(pool, row["id"], actor="ops@test")
    assert dispatch_due(pool, settings) == {"sent": 1}
    assert not cancel_outbox_row(pool, row["id"])  # already sent
    with transaction(pool) as conn:
        audit = conn.execute("SELECT actor, action FROM audit_log").fetchall()
    assert [(a["actor"], a["action"]) for a in audit] == [("ops@test", "outbox.retry")]


def test_delayed_rows_go_out_only_while_the_deal_is_live(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    with transaction(pool) as conn:
        live = make_product(conn, price=Decimal("10"))
        gone = make_product(conn, price=Decimal("99"))
        stale = make_product(conn, price=Decimal("10"), observed_at="now() - interval '5 hours'")
        past = "now() - interval '25 hours'"
        for product in (live, gone, stale):
            make_glitch(conn, product, validated_at=past)
        make_user(conn, "starter", {"telegram": "8001"})
    fan_out_pending(pool, provider_settings)
    looked: list[str] = []

    def refetch(row: Any) -> tuple[Decimal | None, str | None] | None:
        looked.append(row.product_url)
        return Decimal("10.10"), "in_stock"  # a fresh look says it is still on

    counts = Dispatcher(provider_settings, refetch=refetch).dispatch(pool)
    assert counts == {"sent": 2, "expired": 1}
    rows = {r["glitch_id"]: r for r in _rows(pool)}
    with transaction(pool) as conn:
        by_product = {
            r["product_id"]: r["id"]
            for r in conn.execute("SELECT id, product_id FROM glitches").fetchall()
        }
    assert rows[by_product[gone]]["status"] == "expired"
    assert "price is now 99" in rows[by_product[gone]]["last_error"]
    assert len(looked) == 1  # only the stale one needed a fresh look
    assert len(providers.telegram.deliveries()) == 2


def test_unsubscribed_after_fan_out_is_cancelled_not_sent(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn))
        user = make_user(conn, "pro", {"email": "u@x.test"})
    fan_out_pending(pool, provider_settings)
    with transaction(pool) as conn:
        conn.execute("UPDATE notification_channels SET enabled = false WHERE user_id = %s", (user,))
    assert dispatch_due(pool, provider_settings) == {"cancelled": 1}
    assert providers.sendgrid.requests == []


def test_public_teaser_has_no_link_or_price_and_tells_when_pro_heard(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    public = providers.discord.webhook_url("3003", "public")
    settings = dataclasses.replace(provider_settings, discord_public_webhooks_raw=public)
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn, category="laptops"), price=Decimal("12.34"))
        make_user(conn, "pro", {"telegram": "9001"})
    fan_out_pending(pool, settings)
    assert dispatch_due(pool, settings) == {"sent": 2}  # the Pro member, then the teaser
    [teaser] = providers.discord.deliveries()
    embed = teaser.data["embeds"][0]
    flat = str(embed)
    assert "url" not in embed and "12.34" not in flat and "http" not in flat
    assert "laptops" in flat and "Pro members were told" in flat
    assert [r["status"] for r in _rows(pool, variant="deal") if r["user_id"] is None] == ["pending"]
