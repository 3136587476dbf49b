"""Each channel against its provider's stand-in: accepted, refused, throttled, silent."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from pricehawk.notifications.channels import build_channels
from pricehawk.notifications.channels.discord import target_key
from pricehawk.notifications.models import Message
from pricehawk.settings import Settings, load_settings
from tests.notifications.conftest import Providers, aim

ADDRESSES = {
    "email": "buyer@example.test",
    "sms": "+15557654321",
    "whatsapp": "+15557654322",
    "telegram": "424242",
}


def _message(kind: str, address: str) -> Message:
    return Message(
        outbox_id=7,
        channel=kind,
        address=address,
        subject="Price glitch: Gadget [Pro] (2024) #1",
        text="Gadget at Shop: 10.00 USD (usually 100.00). Live for 3 min.",
        url="https://shop.test/p/1?a=(b)",
        html="<p>Gadget</p>",
        title="Price glitch: Gadget [Pro] (2024) #1 best_seller!",
        facts=(("Price", "10.00 USD"), ("Discount", "90%"), ("Live for", "3 min")),
        unsubscribe_url="https://pricehawk.test/unsubscribe/tok",
    )


def _stand_in(p: Providers, kind: str) -> Any:
    return {
        "email": p.sendgrid,
        "sms": p.twilio,
        "whatsapp": p.twilio,
        "telegram": p.telegram,
        "discord": p.discord,
    }[kind]


def _address(p: Providers, kind: str) -> str:
    return p.discord.webhook_url() if kind == "discord" else ADDRESSES[kind]


KINDS = ("email", "sms", "whatsapp", "telegram", "discord")


@pytest.mark.parametrize("kind", KINDS)
def test_accepted_send_records_provider_message_id(
    kind: str, providers: Providers, channel_settings: Settings
) -> None:
    channel = build_channels(channel_settings, (kind,))[kind]
    result = channel.send(_message(kind, _address(providers, kind)))
    assert result.accepted, result.error
    assert result.provider_message_id and result.provider_message_id.startswith(
        {
            "email": "sendgrid:",
            "sms": "twilio:SM",
            "whatsapp": "twilio:SM",
            "telegram": "telegram:",
            "discord": "discord:",
        }[kind]
    )
    [sent] = _stand_in(providers, kind).deliveries()
    assert sent.status in (200, 201, 202)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("behaviour", "retryable", "unknown"),
    [
        ("429", True, False),
        ("500", True, False),
        ("400", False, False),
        ("hang", False, True),
        ("drop", False, True),
    ],
)
def test_failures_are_sorted_into_retry_fail_or_unknown(
    kind: str,
    behaviour: str,
    retryable: bool,
    unknown: bool,
    providers: Providers,
    channel_settings: Settings,
) -> None:
    stand_in = _stand_in(providers, kind)
    stand_in.script(behaviour)
    channel = build_channels(aim(channel_settings, providers, send_timeout_s=0.5), (kind,))[kind]
    result = channel.send(_message(kind, _address(providers, kind)))
    assert not result.accepted
    assert (result.retryable, result.unknown) == (retryable, unknown), result.error
    stand_in.release_hung()


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_retryable(
    kind: str, providers: Providers, channel_settings: Settings
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = aim(
        channel_settings,
        providers,
        sendgrid_base_url=dead,
        twilio_base_url=dead,
        telegram_api_base=dead,
        discord_api_base=dead + "/api",
    )
    address = f"{dead}/api/webhooks/1/t" if kind == "discord" else ADDRESSES[kind]
    result = build_channels(settings, (kind,))[kind].send(_message(kind, address))
    assert (result.accepted, result.retryable, result.unknown) == (False, True, False)


def test_email_carries_one_click_unsubscribe_and_both_bodies(
    providers: Providers, channel_settings: Settings
) -> None:
    build_channels(channel_settings, ("email",))["email"].send(_message("email", "a@b.test"))
    [sent] = providers.sendgrid.deliveries()
    mail = sent.data
    assert mail["headers"]["List-Unsubscribe"] == "<https://pricehawk.test/unsubscribe/tok>"
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [c["type"] for c in mail["content"]] == ["text/plain", "text/html"]
    assert mail["custom_args"] == {"outbox_id": "7"}
    assert mail["from"]["email"] == channel_settings.email_from


def test_telegram_markdown_is_escaped_so_telegram_parses_it(
    providers: Providers, channel_settings: Settings
) -> None:
    """The stand-in rejects unescaped reserved characters as Telegram does; ours pass."""
    result = build_channels(channel_settings, ("telegram",))["telegram"].send(
        _message("telegram", "99")
    )
    assert result.accepted, result.error
    text = providers.telegram.deliveries()[0].data["text"]
    assert r"Gadget \[Pro\] \(2024\) \#1 best\_seller\!" in text
    assert "[Open the deal](https://shop.test/p/1?a=(b\\))" in text


def test_telegram_errors_never_reveal_the_bot_token(
    providers: Providers, channel_settings: Settings
) -> None:
    providers.telegram.script("hang")
    settings = aim(channel_settings, providers, send_timeout_s=0.3)
    result = build_channels(settings, ("telegram",))["telegram"].send(_message("telegram", "1"))
    providers.telegram.release_hung()
    assert result.unknown
    assert providers.telegram.token not in (result.error or "")


def test_discord_posts_only_to_discord_webhooks_or_public_targets(
    providers: Providers, channel_settings: Settings
) -> None:
    public = providers.discord.webhook_url("2002", "public-token")
    settings = aim(channel_settings, providers, discord_public_webhooks_raw=public)
    channel = build_channels(settings, ("discord",))["discord"]
    refused = channel.send(_message("discord", "http://169.254.169.254/latest/meta-data"))
    assert not refused.accepted and not refused.retryable and not refused.unknown
    assert channel.send(_message("discord", target_key(public))).accepted
    [sent] = providers.discord.deliveries()
    assert sent.path == "/api/webhooks/2002/public-token"
    assert sent.data["allowed_mentions"] == {"parse": []}
    assert sent.data["embeds"][0]["fields"][0] == {
        "name": "Price",
        "value": "10.00 USD",
        "inline": True,
    }


def test_unconfigured_channels_fail_without_calling_anyone(tmp_path: Path) -> None:
    for kind in ("email", "sms", "whatsapp", "telegram"):
        settings = load_settings({}, home=tmp_path)
        result = build_channels(settings, (kind,))[kind].send(_message(kind, ADDRESSES[kind]))
        assert not result.accepted and not result.retryable and not result.unknown
