"""The portal's notification routes: one-click unsubscribe and Telegram linking."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from pricehawk.db import transaction
from pricehawk.notifications.linking import LINKED, NOT_LINKED, telegram_link
from pricehawk.notifications.tokens import unsubscribe_token
from pricehawk.settings import Settings
from tests.notifications.conftest import make_user

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture()
def web(settings: Settings) -> Iterator[tuple[FlaskClient, Any, Settings]]:
    from portal import create_app

    s = dataclasses.replace(
        settings, telegram_webhook_secret="tg-secret", telegram_bot_username="PriceHawkTestBot"
    )
    app = create_app(s, TESTING=True)
    services = app.extensions["pricehawk"]
    yield app.test_client(), services.pool, s
    services.close()


def _channel(pool: Any, user: int, kind: str) -> dict[str, Any] | None:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT * FROM notification_channels WHERE user_id = %s AND kind = %s", (user, kind)
        ).fetchone()
    return None if row is None else dict(row)


def test_unsubscribe_link_turns_the_channel_off_and_says_so(
    web: tuple[FlaskClient, Any, Settings],
) -> None:
    client, pool, s = web
    with transaction(pool) as conn:
        user = make_user(conn, "pro", {"email": "shopper@example.test", "sms": "+15550001234"})
    page = client.get(f"/unsubscribe/{unsubscribe_token(s.secret_key, user, 'email')}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Email alerts are off" in html and "sh…@example.test" in html
    assert _channel(pool, user, "email")["enabled"] is False  # type: ignore[index]
    assert _channel(pool, user, "sms")["enabled"] is True  # type: ignore[index]
    # RFC 8058 one-click: the mail provider POSTs, no CSRF token, no session
    one_click = client.post(
        f"/unsubscribe/{unsubscribe_token(s.secret_key, user, 'sms')}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 204
    assert _channel(pool, user, "sms")["enabled"] is False  # type: ignore[index]
    forged = unsubscribe_token("another-key", user, "email")
    assert client.get(f"/unsubscribe/{forged}").status_code == 404


def _update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": "A"}, "text": text},
    }  # fmt: skip


def test_telegram_webhook_requires_the_secret_header(
    web: tuple[FlaskClient, Any, Settings],
) -> None:
    client, _, _ = web
    assert client.post("/webhooks/telegram", json=_update(1, 5, "/start x")).status_code == 401
    wrong = client.post(
        "/webhooks/telegram", json=_update(1, 5, "/start x"), headers={SECRET_HEADER: "nope"}
    )
    assert wrong.status_code == 403


def test_telegram_deep_link_links_the_chat_once(web: tuple[FlaskClient, Any, Settings]) -> None:
    client, pool, s = web
    with transaction(pool) as conn:
        user = make_user(conn, "pro", {"email": "t@example.test"})
    link = telegram_link(pool, s, user)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", "/PriceHawkTestBot")
    token = parse_qs(parts.query)["start"][0]

    def post(update: dict[str, Any]) -> Any:
        return client.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: "tg-secret"})

    linked = post(_update(100, 4242, f"/start {token}"))
    assert linked.status_code == 200
    assert linked.get_json() == {"method": "sendMessage", "chat_id": 4242, "text": LINKED}
    channel = _channel(pool, user, "telegram")
    assert channel is not None and channel["address"] == "4242" and channel["verified_at"]
    # the same update redelivered: no second reply, nothing changes
    assert post(_update(100, 4242, f"/start {token}")).get_data() == b""
    # the token again from another chat: polite refusal, the link stays with the first chat
    reused = post(_update(101, 9999, f"/start {token}"))
    assert reused.get_json()["text"] == NOT_LINKED
    assert _channel(pool, user, "telegram")["address"] == "4242"  # type: ignore[index]
    for n, text in enumerate(["/start unknown-token", "/start bad token!", "/start " + "a" * 65]):
        assert post(_update(200 + n, 777, text)).get_json()["text"] == NOT_LINKED
    expired = telegram_link(pool, s, user, ttl_s=-1)
    token = parse_qs(urlsplit(expired).query)["start"][0]
    assert post(_update(300, 778, f"/start {token}")).get_json()["text"] == NOT_LINKED
    assert _channel(pool, user, "telegram")["address"] == "4242"  # type: ignore[index]
