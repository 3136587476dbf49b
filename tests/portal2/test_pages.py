"""Every page of Portal part 2 through the Flask test client, with good and bad input."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pricehawk.retailers import registry, sync_retailers
from tests.portal.conftest import post_form
from tests.portal2.conftest import db, seed_glitch, set_tier, with_sendgrid


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def form(client: FlaskClient, url: str, data: dict[str, Any], page_: str = "/preferences") -> Any:
    return post_form(client, page_, url, data)


# --- public pages ------------------------------------------------------------------------------


def test_landing_shows_only_glitches_past_the_free_delay(client: FlaskClient, app: Flask) -> None:
    seed_glitch(app, title="Old kettle", validated_ago=timedelta(days=4))
    seed_glitch(app, title="Fresh laptop", validated_ago=timedelta(minutes=3))
    html = page(client, "/")
    assert "Old kettle" in html and "Fresh laptop" not in html
    assert "Start free" in html and "/signup" in html
    # the free example carries no link to the shop (paying members heard first)
    assert "acme.example/p/" not in html


def test_landing_renders_without_a_database(app: Flask, client: FlaskClient) -> None:
    svc = app.extensions["pricehawk"]
    svc.settings = dataclasses.replace(svc.settings, database_url="postgresql://x@127.0.0.1:1/x")
    svc._pool = None  # a pool on a server that is not there
    html = page(client, "/")
    assert "Recent glitches" in html


def test_pricing_monthly_and_annual(client: FlaskClient) -> None:
    monthly = page(client, "/pricing")
    assert "$29<span>/month</span>" in monthly and "120 requests/min" in monthly
    assert "10 years" in monthly and "Instant" in monthly and "72 hours" in monthly
    annual = page(client, "/pricing?cycle=annual")
    assert "$290<span>/year</span>" in annual and "save 17%" in annual
    assert client.get("/pricing?cycle=<script>").status_code == 200  # unknown: monthly


# --- dashboard ---------------------------------------------------------------------------------


def test_pages_need_a_sign_in(client: FlaskClient) -> None:
    for path in ("/dashboard", "/preferences", "/products", "/products/1", "/developer"):
        response = client.get(path)
        assert response.status_code == 302 and "/login?next=" in response.location, path


def test_dashboard_checklist_deals_by_tier_and_history(
    client: FlaskClient, app: Flask, signed_in: str
) -> None:
    seed_glitch(app, title="Fresh laptop", validated_ago=timedelta(minutes=3))
    seed_glitch(app, title="Old kettle", validated_ago=timedelta(days=4), status="ended")
    html = page(client, "/dashboard")
    assert "Get your first alert" in html and "Fresh laptop" not in html and "Old kettle" in html
    assert "lasted" in html  # an ended deal says how long it lived
    user_id = set_tier(app, signed_in, "pro")
    html = page(client, "/dashboard")
    assert "Fresh laptop" in html and "alerts instantly" in html
    # preferences saved and a verified channel: the checklist goes; history shows delivery
    with db(app) as conn:
        conn.execute("INSERT INTO notification_preferences (user_id) VALUES (%s)", (user_id,))
        conn.execute(
            """INSERT INTO notification_channels (user_id, kind, address, verified_at)
               VALUES (%s, 'sms', '+14155550100', now())""",
            (user_id,),
        )
        glitch = conn.execute("SELECT id FROM glitches ORDER BY id LIMIT 1").fetchone()["id"]
        conn.execute(
            """INSERT INTO notification_outbox (glitch_id, user_id, channel, tier, due_at,
                   status, sent_at) VALUES (%s, %s, 'sms', 'pro', now(), 'sent', now())""",
            (glitch, user_id),
        )
    html = page(client, "/dashboard")
    assert "Get your first alert" not in html
    assert re.search(r"SMS</td>\s*<td><span class=\"status s-sent\">delivered", html)


# --- preferences -------------------------------------------------------------------------------


def test_save_preferences_and_field_errors(client: FlaskClient, app: Flask, signed_in: str) -> None:
    seed_glitch(app, category="Audio")
    bad = form(
        client,
        "/preferences",
        {"min_price": "ten", "max_price": "5", "quiet_start": "22:00", "timezone": "Mars/Base",
         "daily_cap": "0", "retailers": "evil", "min_discount_pct": "150"},
    )  # fmt: skip
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    for field in ("min_price", "quiet_end", "timezone", "daily_cap", "retailers",
                  "min_discount_pct"):  # fmt: skip
        assert f'id="e-prefs-{field}"' in html, field
    assert 'value="5"' in html  # what was typed stays in the form
    good = form(
        client,
        "/preferences",
        {"retailers": "acme", "categories": "Audio", "min_price": "10", "max_price": "900",
         "min_discount_pct": "50", "min_margin_pct": "20", "quiet_start": "22:00",
         "quiet_end": "07:00", "timezone": "Europe/Paris", "daily_cap": "5"},
    )  # fmt: skip
    assert good.status_code == 303 and "notice=prefs_saved" in good.location
    html = page(client, "/preferences")
    assert 'value="acme" checked' in html and 'value="Europe/Paris" selected' in html
    assert 'value="50"' in html and 'value="22:00"' in html


def test_csrf_is_required(client: FlaskClient, signed_in: str) -> None:
    response = client.post("/preferences", data={"min_price": "1"})
    assert response.status_code == 400


def test_sms_verification_code_flow(
    client: FlaskClient, app: Flask, signed_in: str, standins: dict[str, Any]
) -> None:
    # Free has no SMS: the plan says so
    refused = form(client, "/preferences/phone/sms", {"number": "+14155550100"})
    assert refused.status_code == 400 and "Pro plan" in refused.get_data(as_text=True)
    set_tier(app, signed_in, "pro")
    bad = form(client, "/preferences/phone/sms", {"number": "555-0100"})
    assert bad.status_code == 400 and "international format" in bad.get_data(as_text=True)
    assert form(client, "/preferences/phone/fax", {"number": "+1415"}).status_code == 404
    sent = form(client, "/preferences/phone/sms", {"number": "+1 (415) 555-0100"})
    assert sent.status_code == 303 and "code_sent" in sent.location
    [rec] = standins["twilio"].deliveries()
    assert rec.data["To"] == "+14155550100"
    code = re.search(r"\d{6}", rec.data["Body"]).group(0)  # type: ignore[union-attr]
    assert "Code sent to +14155550100" in page(client, "/preferences")
    wrong = form(client, "/preferences/phone/sms/verify", {"code": "abc"})
    assert wrong.status_code == 400 and "6 digits" in wrong.get_data(as_text=True)
    other = "000000" if code != "000000" else "111111"
    wrong = form(client, "/preferences/phone/sms/verify", {"code": other})
    assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
    ok = form(client, "/preferences/phone/sms/verify", {"code": code})
    assert ok.status_code == 303 and "channel_verified" in ok.location
    html = page(client, "/preferences")
    assert re.search(
        r'id="channel-sms">\s*<header>\s*<h3>SMS</h3>\s*<span class="badge live">', html
    )
    # a test alert goes out on the verified number; pause, resume and remove
    assert form(client, "/preferences/channels/sms/test", {}).status_code == 303
    assert "test alert" in standins["twilio"].deliveries()[-1].data["Body"]
    paused = form(client, "/preferences/channels/sms/toggle", {"enabled": "0"})
    assert "channel_paused" in paused.location
    assert form(client, "/preferences/channels/sms/remove", {}).status_code == 303
    assert "+14155550100" not in page(client, "/preferences")
    assert form(client, "/preferences/channels/sms/toggle", {"enabled": "1"}).status_code == 404


def test_sms_provider_refusal_is_reported(
    client: FlaskClient, app: Flask, signed_in: str, standins: dict[str, Any]
) -> None:
    set_tier(app, signed_in, "pro")
    standins["twilio"].script("400")
    failed = form(client, "/preferences/phone/whatsapp", {"number": "+14155550100"})
    assert failed.status_code == 400 and "could not send" in failed.get_data(as_text=True)
    assert "Code sent to" not in page(client, "/preferences")  # the unsent code was dropped


def test_test_alert_needs_a_verified_channel(client: FlaskClient, signed_in: str) -> None:
    response = form(client, "/preferences/channels/telegram/test", {})
    assert response.status_code == 400 and "Connect and verify Telegram" in response.get_data(
        as_text=True
    )
    assert form(client, "/preferences/channels/pager/test", {}).status_code == 404


def test_email_channel_and_test_alert(
    client: FlaskClient, app: Flask, signed_in: str, standins: dict[str, Any]
) -> None:
    with_sendgrid(app, standins)
    assert form(client, "/preferences/email", {}).status_code == 303
    assert "Send me a test alert" in page(client, "/preferences")
    assert form(client, "/preferences/channels/email/test", {}).status_code == 303
    [mail] = standins["sendgrid"].deliveries()
    assert mail.extra["to"] == signed_in


def test_email_channel_needs_a_confirmed_address(client: FlaskClient, app: Flask) -> None:
    from tests.portal.conftest import new_user

    new_user(client, app, "unconfirmed@example.com", verified=False)
    response = post_form(client, "/account", "/preferences/email", {})
    assert response.status_code == 400 and "Confirm your account" in response.get_data(as_text=True)


def test_discord_webhook_is_checked_with_a_test_message(
    client: FlaskClient, app: Flask, signed_in: str, standins: dict[str, Any]
) -> None:
    set_tier(app, signed_in, "starter")
    hook = standins["discord"].webhook_url("123456789012", "abcdefghijklmnopqrstuvwxyz_-1")
    for bad in ("https://evil.example/api/webhooks/1/2", "not a url", ""):
        response = form(client, "/preferences/discord", {"webhook_url": bad})
        assert response.status_code == 400 and "not a Discord webhook" in response.get_data(
            as_text=True
        )
    standins["discord"].script("400")
    refused = form(client, "/preferences/discord", {"webhook_url": hook})
    assert refused.status_code == 400 and "did not accept" in refused.get_data(as_text=True)
    ok = form(client, "/preferences/discord", {"webhook_url": hook})
    assert ok.status_code == 303 and "discord_connected" in ok.location
    assert standins["discord"].deliveries()[-1].data["embeds"][0]["title"] == "PriceHawk test alert"
    assert hook not in page(client, "/preferences")  # the URL holds a secret token


def test_telegram_link_button(client: FlaskClient, app: Flask, signed_in: str) -> None:
    assert 'href="/account/telegram/link"' not in page(client, "/preferences")  # not on Free
    set_tier(app, signed_in, "starter")
    html = page(client, "/preferences")
    assert 'href="/account/telegram/link"' in html
    response = client.get("/account/telegram/link")
    assert response.status_code == 302 and response.location.startswith("https://t.me/")


# --- products ----------------------------------------------------------------------------------


@pytest.fixture()
def shop(app: Flask, demo_shop: Any) -> str:
    svc = app.extensions["pricehawk"]
    svc.settings = dataclasses.replace(svc.settings, demo_shop_url=demo_shop.url)
    with db(app) as conn:
        sync_retailers(conn, registry(svc.settings))
    return str(demo_shop.url)


def test_track_a_product_and_manage_it(
    client: FlaskClient, app: Flask, signed_in: str, shop: str
) -> None:
    empty = form(client, "/products", {"url": " "}, "/products")
    assert empty.status_code == 400 and "Paste the link" in empty.get_data(as_text=True)
    unknown = form(client, "/products", {"url": "https://nowhere.example/p/1"}, "/products")
    assert unknown.status_code == 400 and "doesn&#39;t cover nowhere.example" in unknown.get_data(
        as_text=True
    )
    missing = form(client, "/products", {"url": f"{shop}/acme/product/missing"}, "/products")
    assert missing.status_code == 400 and "answered 404" in missing.get_data(as_text=True)
    added = form(client, "/products", {"url": f"{shop}/acme/product/acme-audio-0"}, "/products")
    assert added.status_code == 303 and "notice=tracked" in added.location
    detail_path = added.location.split("?")[0]
    html = page(client, detail_path)
    assert "NoiseAway" in html and "<svg" in html and "Price history of" in html
    # alerts: bad thresholds are explained next to the alert, good ones saved and removed
    bad = form(client, f"{detail_path}/alerts", {"kind": "pct_drop", "threshold": "150"},
               detail_path)  # fmt: skip
    assert bad.status_code == 400 and 'id="e-a-pct_drop"' in bad.get_data(as_text=True)
    unknown_kind = form(client, f"{detail_path}/alerts", {"kind": "sometimes"}, detail_path)
    assert unknown_kind.status_code == 400 and "Unknown alert" in unknown_kind.get_data(
        as_text=True
    )
    ok = form(client, f"{detail_path}/alerts", {"kind": "target_price", "threshold": "$19.50"},
              detail_path)  # fmt: skip
    assert ok.status_code == 303 and "alert_saved" in ok.location
    assert 'value="19.5"' in page(client, detail_path)
    assert (
        form(client, f"{detail_path}/alerts", {"kind": "new_low"}, detail_path).status_code == 303
    )
    removed = form(client, f"{detail_path}/alerts/new_low/delete", {}, detail_path)
    assert "alert_removed" in removed.location
    assert form(client, f"{detail_path}/alerts/new_low/delete", {}, detail_path).status_code == 404
    # pause, markup and profit, remove
    assert "product_paused" in form(client, f"{detail_path}/pause", {"paused": "1"},
                                    detail_path).location  # fmt: skip
    assert "alerts paused" in page(client, detail_path)
    bad_markup = form(client, "/products/markup", {"markup_pct": "lots"}, "/products")
    assert bad_markup.status_code == 400 and "percentage" in bad_markup.get_data(as_text=True)
    assert form(client, "/products/markup", {"markup_pct": "25%"}, "/products").status_code == 303
    listing = page(client, "/products")
    assert "profit at 25% markup" in listing and "1 of 3 on Free" in listing
    assert "a profit of" in page(client, detail_path)
    assert "product_removed" in form(client, f"{detail_path}/remove", {}, detail_path).location
    assert client.get(detail_path).status_code == 404


def test_tracked_limit_offers_an_upgrade(
    client: FlaskClient, app: Flask, signed_in: str, shop: str
) -> None:
    for i in range(3):
        url = f"{shop}/globex/product/globex-audio-{i}"
        assert form(client, "/products", {"url": url}, "/products").status_code == 303
    over = form(client, "/products", {"url": f"{shop}/globex/product/globex-audio-3"}, "/products")
    html = over.get_data(as_text=True)
    assert over.status_code == 400 and "Upgrade to Starter" in html and "/billing" in html


def test_someone_elses_product_is_not_found(
    client: FlaskClient, app: Flask, signed_in: str, shop: str
) -> None:
    added = form(client, "/products", {"url": f"{shop}/acme/product/acme-audio-1"}, "/products")
    detail_path = added.location.split("?")[0]
    other = app.test_client()
    from tests.portal.conftest import new_user

    new_user(other, app, "intruder@example.com")
    assert other.get(detail_path).status_code == 404
    for action in ("pause", "remove"):
        assert post_form(other, "/products", f"{detail_path}/{action}", {}).status_code == 404
    assert client.get("/products/99999999999999999999999").status_code == 404
    assert client.get(detail_path).status_code == 200  # still the owner's


# --- developer (API tokens) ----------------------------------------------------------------------


def test_tokens_are_elite_only_shown_once_and_revocable(
    client: FlaskClient, app: Flask, signed_in: str
) -> None:
    html = page(client, "/developer")
    assert "Upgrade to Elite" in html
    refused = form(client, "/developer/tokens", {"name": "bot"}, "/developer")
    assert refused.status_code == 403
    set_tier(app, signed_in, "elite")
    assert form(client, "/developer/tokens", {"name": ""}, "/developer").status_code == 400
    created = form(client, "/developer/tokens", {"name": "deal bot"}, "/developer")
    assert created.status_code == 201
    token = re.search(r"<code>(ph_[\w-]+)</code>", created.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    listing = page(client, "/developer")
    assert token not in listing and "deal bot" in listing and token[:10] in listing
    assert (
        client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    token_id = re.search(r"/developer/tokens/(\d+)/revoke", listing).group(1)  # type: ignore[union-attr]
    revoked = form(client, f"/developer/tokens/{token_id}/revoke", {}, "/developer")
    assert revoked.status_code == 303
    assert (
        client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert form(client, f"/developer/tokens/{token_id}/revoke", {}, "/developer").status_code == 404
