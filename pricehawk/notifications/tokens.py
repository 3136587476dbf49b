"""Signed unsubscribe tokens and single-use Telegram link tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# Telegram's deep-link `start` parameter: 1-64 characters of A-Z a-z 0-9 _ -
LINK_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _sig(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe:{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def unsubscribe_token(secret: str, user_id: int, kind: str) -> str:
    """A token that turns off one channel of one user, for a link that needs no login.

    It never expires (an old email's link must still work) and does only that one thing.
    """
    if not secret:
        raise ValueError("PRICEHAWK_SECRET_KEY is required to sign unsubscribe links")
    payload = f"{user_id}.{kind}"
    return f"{payload}.{_sig(secret, payload)}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | None:
    """(user id, channel kind) from a genuine token; None for anything else."""
    if not secret:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isalpha():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _sig(secret, payload)):
        return None
    return int(parts[0]), parts[1]


def new_link_token() -> str:
    """A fresh Telegram link token: 32 URL-safe characters (fits `start`'s alphabet)."""
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    """What the database keeps of a link token."""
    return hashlib.sha256(token.encode()).hexdigest()
