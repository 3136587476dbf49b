"""Verification codes for SMS and WhatsApp numbers: short-lived, few attempts, hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pricehawk.preferences import queries

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5


def _hash(secret_key: str, user_id: int, kind: str, code: str) -> str:
    message = f"{user_id}:{kind}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def start(conn: Any, secret_key: str, user_id: int, kind: str, address: str) -> str:
    """Create (or replace) a 6-digit code for this number; returns the code to send."""
    code = f"{secrets.randbelow(10**6):06d}"
    expires = datetime.now(UTC) + CODE_TTL
    queries.store_code(
        conn, user_id, kind, address, _hash(secret_key, user_id, kind, code), expires
    )
    return code


def confirm(conn: Any, secret_key: str, user_id: int, kind: str, code: str) -> str | None:
    """None when the code is right (the channel is then verified); else why not, in words."""
    row = queries.take_code(conn, user_id, kind)
    if row is None:
        return "Send yourself a code first."
    if row["expires_at"] < datetime.now(UTC):
        queries.drop_code(conn, user_id, kind)
        return "That code has expired; send a new one."
    if row["attempts"] > MAX_ATTEMPTS:
        queries.drop_code(conn, user_id, kind)
        return "Too many tries; send a new code."
    expected = _hash(secret_key, user_id, kind, code.strip())
    if not hmac.compare_digest(expected, row["code_hash"]):
        return "That code is not right."
    queries.drop_code(conn, user_id, kind)
    queries.set_channel(conn, user_id, kind, row["address"], verified=True)
    return None
