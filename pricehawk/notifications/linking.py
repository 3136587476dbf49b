"""Subscribers' own channel links: one-click unsubscribe and Telegram deep-link linking."""

from __future__ import annotations

import logging
from typing import Any

from pricehawk.db import transaction
from pricehawk.notifications import queries
from pricehawk.notifications.tokens import (
    LINK_TOKEN_RE,
    new_link_token,
    read_unsubscribe_token,
    token_digest,
)
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

LINK_TTL_S = 900  # a deep link is used within minutes or not at all

LINKED = (
    "Done: PriceHawk alerts will arrive in this chat. To stop them, turn Telegram off in your "
    "PriceHawk account settings."
)
NOT_LINKED = (
    "Sorry, this link has expired or was already used. Open your PriceHawk account page and "
    "choose 'Link Telegram' again."
)
HELLO = "Hi! To get PriceHawk alerts here, choose 'Link Telegram' on your PriceHawk account page."


def telegram_link(pool: Any, settings: Settings, user_id: int, ttl_s: int = LINK_TTL_S) -> str:
    """A fresh single-use https://t.me/<bot>?start=<token> link for this user."""
    token = new_link_token()
    with transaction(pool) as conn:
        queries.create_link_token(conn, user_id, token_digest(token), ttl_s)
    return f"https://t.me/{settings.telegram_bot_username}?start={token}"


def handle_telegram_update(
    pool: Any, settings: Settings, update: dict[str, Any]
) -> dict[str, Any] | None:
    """Act on one Bot API update; returns the reply (a sendMessage the webhook answers with), or
    None. A redelivered update (same update_id) changes nothing and gets no second reply."""
    message = update.get("message") or {}
    text = str(message.get("text") or "")
    chat_id = (message.get("chat") or {}).get("id")
    if chat_id is None or not text.startswith("/start"):
        return None
    parts = text.split(maxsplit=1)
    token = parts[1].strip() if len(parts) == 2 else ""
    with transaction(pool) as conn:
        update_id = update.get("update_id")
        if update_id is not None and not queries.record_webhook_event(
            conn, "telegram", str(update_id), "message", update
        ):
            return None
        if not token:
            return _reply(chat_id, HELLO)
        user_id = None
        if LINK_TOKEN_RE.match(token):
            user_id = queries.consume_link_token(conn, token_digest(token), str(chat_id))
        if user_id is None:
            return _reply(chat_id, NOT_LINKED)
        queries.save_verified_channel(conn, user_id, "telegram", str(chat_id))
    log.info("telegram linked for user %s", user_id)
    return _reply(chat_id, LINKED)


def _reply(chat_id: Any, text: str) -> dict[str, Any]:
    # Telegram accepts a method call as the webhook's response body: no outbound request.
    return {"method": "sendMessage", "chat_id": chat_id, "text": text}


def unsubscribe(pool: Any, settings: Settings, token: str) -> tuple[str, str] | None:
    """Turn off the channel a signed unsubscribe token names; (kind, address) or None."""
    found = read_unsubscribe_token(settings.secret_key, token)
    if found is None:
        return None
    user_id, kind = found
    with transaction(pool) as conn:
        address = queries.disable_channel(conn, user_id, kind)
        if address is not None:
            conn.execute(
                "INSERT INTO audit_log (actor, action, target) VALUES (%s, %s, %s)",
                (f"user:{user_id}", "channel.unsubscribe", f"{kind}"),
            )
    return None if address is None else (kind, address)
