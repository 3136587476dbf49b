"""Telegram through the Bot API's sendMessage (no official Python library: httpx).

Text is sent as MarkdownV2, so every reserved character in our text is escaped
(https://core.telegram.org/bots/api#markdownv2-style).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from pricehawk.notifications.channels import register
from pricehawk.notifications.channels.errors import from_httpx, from_status
from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings

_RESERVED = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_LINK_RESERVED = re.compile(r"([)\\])")
MAX_TEXT = 4096


def escape_md(text: str) -> str:
    """Escape text for MarkdownV2 outside entities."""
    return _RESERVED.sub(r"\\\1", text)


def escape_link(url: str) -> str:
    """Escape a URL inside a MarkdownV2 inline link's parentheses."""
    return _LINK_RESERVED.sub(r"\\\1", url)


def format_markdown(message: Message) -> str:
    """The message as MarkdownV2: bold title, one line per fact, a link."""
    lines = [f"*{escape_md(message.title or message.subject)}*"]
    if message.facts:
        lines += [f"{escape_md(k)}: {escape_md(v)}" for k, v in message.facts]
    else:
        lines.append(escape_md(message.text))
    if message.url:
        lines.append(f"[Open the deal]({escape_link(message.url)})")
    return "\n".join(lines)[:MAX_TEXT]


class TelegramBot:
    """The few Bot API calls we make (sendMessage), with base URL and token from settings."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        self.token = settings.telegram_bot_token
        self.base = settings.telegram_api_base.rstrip("/")
        self.client = client or httpx.Client(timeout=httpx.Timeout(settings.send_timeout_s))

    def send_message(self, chat_id: str, text: str, *, markdown: bool = True) -> SendResult:
        """POST sendMessage; the Bot API answers {"ok": true, "result": {"message_id": ...}}."""
        if not self.token:
            return SendResult(False, error="telegram: TELEGRAM_BOT_TOKEN is not set")
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if markdown:
            payload["parse_mode"] = "MarkdownV2"
        payload["link_preview_options"] = {"is_disabled": True}
        try:
            response = self.client.post(f"{self.base}/bot{self.token}/sendMessage", json=payload)
        except httpx.HTTPError as exc:
            return _redact(from_httpx(exc, "telegram"), self.token)
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200 and data.get("ok"):
            return SendResult(True, provider_message_id=f"telegram:{data['result']['message_id']}")
        params = data.get("parameters") or {}
        return from_status(
            response.status_code,
            str(data.get("description") or response.text[:200]),
            wait_s=params.get("retry_after"),
            provider="telegram",
        )


def _redact(result: SendResult, token: str) -> SendResult:
    # the bot token is part of the URL, and httpx errors quote the URL
    if token and result.error and token in result.error:
        return SendResult(
            result.accepted,
            result.provider_message_id,
            result.error.replace(token, "<token>"),
            result.retryable,
            result.unknown,
            result.retry_after_s,
        )
    return result


@register("telegram")
class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: Settings) -> None:
        self.bot = TelegramBot(settings)

    def send(self, message: Message) -> SendResult:
        """One MarkdownV2 message to the linked chat."""
        return self.bot.send_message(message.address, format_markdown(message))
