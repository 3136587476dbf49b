"""Random tokens and their digests, and the signed trusted-device cookie (pure)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    """A URL-safe token with 256 bits from the OS's secure random source."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a token (a fast hash suffices: the token
    carries 256 random bits, so it cannot be guessed from its digest)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def sign(secret: str, *parts: str) -> str:
    """HMAC-SHA256 of the parts (joined by a separator that cannot occur in them)."""
    message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def device_cookie(secret: str, user_id: int) -> str:
    """A trusted-device cookie for a user who just signed in on this browser.

    OWASP "Slow Down Online Guessing Attacks with Device Cookies": a browser that has signed
    in before is not locked out when someone else hammers the same account.
    """
    nonce = secrets.token_urlsafe(16)
    return f"{user_id}.{nonce}.{sign(secret, 'device', str(user_id), nonce)}"


def read_device_cookie(secret: str, value: str | None) -> tuple[int, str] | None:
    """(user id, nonce) of a genuine device cookie, else None."""
    if not value or not secret:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    user_id, nonce, mac = parts
    if not hmac.compare_digest(mac, sign(secret, "device", user_id, nonce)):
        return None
    return int(user_id), nonce
