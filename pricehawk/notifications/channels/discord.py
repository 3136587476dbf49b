"""Discord through webhooks (embeds), with httpx: Discord has no official Python library.

Subscribers link a webhook of their own server; public channels are the operator's
DISCORD_PUBLIC_WEBHOOKS, addressed in the outbox by a digest of the URL (the URL is a secret).
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from pricehawk.notifications.channels import register
from pricehawk.notifications.channels.errors import from_httpx, from_status, retry_after
from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings

EMBED_COLOUR = 0xE67E22


def target_key(url: str) -> str:
    """How the outbox names a public webhook: a digest, never the URL itself."""
    return "discord:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def build_payload(message: Message) -> dict[str, Any]:
    """Webhook body: one embed (title, description, link, fields); no pings, ever."""
    embed: dict[str, Any] = {
        "title": (message.title or message.subject)[:256],
        "description": message.text[:4096] if not message.facts else "",
        "color": EMBED_COLOUR,
        "fields": [{"name": k[:256], "value": v[:1024], "inline": True} for k, v in message.facts][
            :25
        ],
    }
    if message.url:
        embed["url"] = message.url
    if not embed["description"]:
        del embed["description"]
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


@register("discord")
class DiscordChannel:
    name = "discord"

    def __init__(self, settings: Settings) -> None:
        self.allowed_prefix = settings.discord_api_base.rstrip("/") + "/webhooks/"
        self.public = {target_key(u): u for u in settings.discord_public_webhooks}
        self.client = httpx.Client(timeout=httpx.Timeout(settings.send_timeout_s))

    def resolve(self, address: str) -> str | None:
        """The webhook URL for an address: a public target key, or a subscriber's own webhook
        (only under DISCORD_API_BASE: we never POST to an arbitrary URL a user typed)."""
        if address in self.public:
            return self.public[address]
        if address.startswith(self.allowed_prefix):
            return address
        return None

    def send(self, message: Message) -> SendResult:
        """POST the embed with ?wait=true, so Discord answers with the message and its id."""
        url = self.resolve(message.address)
        if url is None:
            return SendResult(False, error="discord: not a Discord webhook we may post to")
        try:
            response = self.client.post(url, params={"wait": "true"}, json=build_payload(message))
        except httpx.HTTPError as exc:
            result = from_httpx(exc, "discord")
            # the webhook URL holds its token; keep it out of stored errors
            return SendResult(
                False,
                error=(result.error or "").replace(url, "<webhook>"),
                retryable=result.retryable,
                unknown=result.unknown,
            )
        if response.status_code in (200, 204):
            try:
                mid = response.json().get("id", "accepted")
            except ValueError:
                mid = "accepted"
            return SendResult(True, provider_message_id=f"discord:{mid}")
        body_wait = None
        try:
            data = response.json()
            body_wait = data.get("retry_after") if isinstance(data, dict) else None
            detail = str(data.get("message", "")) if isinstance(data, dict) else response.text
        except ValueError:
            detail = response.text[:200]
        return from_status(
            response.status_code,
            detail,
            wait_s=retry_after(dict(response.headers), body_wait),
            provider="discord",
        )
