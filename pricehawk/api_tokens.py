"""Personal API tokens (Elite) and per-tier API rate limits.

A token is `ph_<random>`; only its SHA-256 is stored, so a database leak reveals none.
Rate limits are a fixed one-minute window per user in Redis, shared by every portal process.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TOKEN_PREFIX = "ph_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class ApiUser:
    user_id: int
    tier: str
    token_id: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Any, user_id: int, name: str) -> str:
    """A new token for the user; the only time its value is known."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES (%s, %s, %s, %s)",
        (user_id, name.strip()[:80] or "token", _digest(token), token[:10]),
    )
    return token


def list_tokens(conn: Any, user_id: int) -> list[TokenInfo]:
    rows = conn.execute(
        """SELECT id, name, prefix, created_at, last_used_at FROM api_tokens
           WHERE user_id = %s AND revoked_at IS NULL ORDER BY id""",
        (user_id,),
    ).fetchall()
    return [TokenInfo(**r) for r in rows]


def revoke_token(conn: Any, user_id: int, token_id: int) -> bool:
    cur = conn.execute(
        """UPDATE api_tokens SET revoked_at = now()
           WHERE id = %s AND user_id = %s AND revoked_at IS NULL""",
        (token_id, user_id),
    )
    return bool(cur.rowcount)


def authenticate(conn: Any, token: str) -> ApiUser | None:
    """The live, non-deleted user a bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        """UPDATE api_tokens t SET last_used_at = now()
           FROM users u
           WHERE t.token_hash = %s AND t.revoked_at IS NULL
             AND u.id = t.user_id AND u.deleted_at IS NULL
           RETURNING t.id AS token_id, u.id AS user_id, u.tier""",
        (_digest(token),),
    ).fetchone()
    return None if row is None else ApiUser(row["user_id"], row["tier"], row["token_id"])


def rate_limit(
    redis: Any,
    key_prefix: str,
    user_id: int | str,
    per_minute: int,
    now: float | None = None,
    *,
    bucket: str = "api",
    window_s: int = 60,
) -> int | None:
    """None when the request may go ahead; else the seconds to wait (for Retry-After).

    `per_minute` is the allowance per window (a minute unless `window_s` says otherwise);
    other buckets (verification codes, test alerts) share the same counter scheme."""
    now = time.time() if now is None else now
    window = int(now // window_s)
    key = f"{key_prefix}ratelimit:{bucket}:{user_id}:{window}"
    pipe = redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, window_s * 2)
    count = int(pipe.execute()[0])
    if count <= per_minute:
        return None
    return max(1, window_s - int(now % window_s))
