"""SQL of the accounts domain (users, sessions, tokens, login throttling)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from pricehawk.accounts.models import Session, User
from pricehawk.accounts.throttle import Counter

Conn = psycopg.Connection[Any]

_USER_COLS = "id, email, password_hash, email_verified_at, tier, created_at"


def _user(row: dict[str, Any] | None) -> User | None:
    return User(**row) if row else None


def user_by_email(conn: Conn, email: str) -> User | None:
    """The live account with this email (case-insensitive), if any."""
    row = conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE lower(email) = lower(%s) AND deleted_at IS NULL",
        (email,),
    ).fetchone()
    return _user(row)


def user_by_id(conn: Conn, user_id: int) -> User | None:
    """The live account with this id, if any."""
    row = conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE id = %s AND deleted_at IS NULL", (user_id,)
    ).fetchone()
    return _user(row)


def insert_user(conn: Conn, email: str, password_hash: str) -> User | None:
    """A new account; None when the email is taken (decided by the unique index, so two
    sign-ups racing for one address cannot both win)."""
    row = conn.execute(
        f"""INSERT INTO users (email, password_hash) VALUES (%s, %s)
            ON CONFLICT (lower(email)) WHERE deleted_at IS NULL DO NOTHING
            RETURNING {_USER_COLS}""",
        (email, password_hash),
    ).fetchone()
    return _user(row)


def set_password_hash(conn: Conn, user_id: int, password_hash: str) -> None:
    """Store a new password hash."""
    conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))


def mark_verified(conn: Conn, user_id: int, email: str) -> bool:
    """Mark the email verified if it is still the account's email."""
    cur = conn.execute(
        """UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
           WHERE id = %s AND lower(email) = lower(%s) AND deleted_at IS NULL""",
        (user_id, email),
    )
    return cur.rowcount == 1


def change_email(conn: Conn, user_id: int, email: str) -> bool:
    """Switch to a new (verified) email; False when another account holds it."""
    try:
        with conn.transaction():
            cur = conn.execute(
                "UPDATE users SET email = %s, email_verified_at = now() WHERE id = %s",
                (email, user_id),
            )
            # Email alerts follow the account's (now verified) address.
            conn.execute(
                """UPDATE notification_channels SET address = %s, verified_at = now()
                   WHERE user_id = %s AND kind = 'email'""",
                (email, user_id),
            )
    except psycopg.errors.UniqueViolation:
        return False
    return cur.rowcount == 1


def delete_user(conn: Conn, user_id: int) -> None:
    """Remove the account row; sessions, tokens, preferences, channels, tracked products,
    subscriptions and outbox rows go with it (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM users WHERE id = %s", (user_id,))


def audit(conn: Conn, actor: str, action: str, target: str | None = None) -> None:
    """Append to the audit log (never personal data: ids only)."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, target) VALUES (%s, %s, %s)",
        (actor, action, target),
    )


# --- sessions ------------------------------------------------------------------------------

_SESSION_COLS = "id, user_id, created_at, last_seen_at, ip, user_agent"


def insert_session(
    conn: Conn, session_id: str, user_id: int, ip: str | None, user_agent: str | None
) -> None:
    """Record a new session under the digest of its cookie value."""
    conn.execute(
        "INSERT INTO user_sessions (id, user_id, ip, user_agent) VALUES (%s, %s, %s, %s)",
        (session_id, user_id, ip, (user_agent or "")[:300]),
    )


def session_by_id(conn: Conn, session_id: str) -> Session | None:
    """The session with this digest, if any."""
    row = conn.execute(
        f"SELECT {_SESSION_COLS} FROM user_sessions WHERE id = %s", (session_id,)
    ).fetchone()
    return Session(**row) if row else None


def touch_session(conn: Conn, session_id: str, now: datetime) -> None:
    """Note activity on a session (restarts its idle clock)."""
    conn.execute("UPDATE user_sessions SET last_seen_at = %s WHERE id = %s", (now, session_id))


def delete_session(conn: Conn, session_id: str, user_id: int | None = None) -> bool:
    """End one session (only the given user's, when user_id is passed)."""
    if user_id is None:
        cur = conn.execute("DELETE FROM user_sessions WHERE id = %s", (session_id,))
    else:
        cur = conn.execute(
            "DELETE FROM user_sessions WHERE id = %s AND user_id = %s", (session_id, user_id)
        )
    return cur.rowcount == 1


def delete_user_sessions(conn: Conn, user_id: int, keep: str | None = None) -> int:
    """End every session of a user but `keep`; return how many ended."""
    cur = conn.execute(
        "DELETE FROM user_sessions WHERE user_id = %s AND id IS DISTINCT FROM %s",
        (user_id, keep),
    )
    return cur.rowcount


def sessions_of(conn: Conn, user_id: int) -> list[Session]:
    """A user's sessions, most recently active first."""
    rows = conn.execute(
        f"""SELECT {_SESSION_COLS} FROM user_sessions WHERE user_id = %s
            ORDER BY last_seen_at DESC""",
        (user_id,),
    ).fetchall()
    return [Session(**r) for r in rows]


def delete_stale_sessions(conn: Conn, idle_before: datetime, created_before: datetime) -> int:
    """Remove sessions past their idle or absolute timeout."""
    cur = conn.execute(
        "DELETE FROM user_sessions WHERE last_seen_at < %s OR created_at < %s",
        (idle_before, created_before),
    )
    return cur.rowcount


# --- email tokens ----------------------------------------------------------------------------


def insert_token(
    conn: Conn, token_hash: str, user_id: int, purpose: str, email: str, expires_at: datetime
) -> None:
    """Record an emailed token by its digest."""
    conn.execute(
        """INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (token_hash, user_id, purpose, email, expires_at),
    )


def token_row(conn: Conn, token_hash: str, purpose: str, now: datetime) -> dict[str, Any] | None:
    """An unused, unexpired token's row (without using it up)."""
    row: dict[str, Any] | None = conn.execute(
        """SELECT user_id, email FROM account_tokens
           WHERE token_hash = %s AND purpose = %s AND used_at IS NULL AND expires_at > %s""",
        (token_hash, purpose, now),
    ).fetchone()
    return row


def consume_token(
    conn: Conn, token_hash: str, purpose: str, now: datetime
) -> dict[str, Any] | None:
    """Use a token up: at most one caller ever gets its row back."""
    row: dict[str, Any] | None = conn.execute(
        """UPDATE account_tokens SET used_at = %s
           WHERE token_hash = %s AND purpose = %s AND used_at IS NULL AND expires_at > %s
           RETURNING user_id, email""",
        (now, token_hash, purpose, now),
    ).fetchone()
    return row


def void_tokens(conn: Conn, user_id: int, purpose: str, now: datetime) -> None:
    """Use up every outstanding token of a purpose (a newer one, or a reset, supersedes them)."""
    conn.execute(
        """UPDATE account_tokens SET used_at = %s
           WHERE user_id = %s AND purpose = %s AND used_at IS NULL""",
        (now, user_id, purpose),
    )


# --- login throttling -------------------------------------------------------------------------


def counters(conn: Conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Counter]:
    """The throttle counters of these (scope, key) pairs, locked for update."""
    if not keys:
        return {}
    rows = conn.execute(
        """SELECT scope, key, failures, window_started_at, locked_until FROM login_throttle
           WHERE (scope, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
           ORDER BY scope, key FOR UPDATE""",
        ([s for s, _ in keys], [k for _, k in keys]),
    ).fetchall()
    return {
        (r["scope"], r["key"]): Counter(r["failures"], r["window_started_at"], r["locked_until"])
        for r in rows
    }


def save_counter(conn: Conn, scope: str, key: str, counter: Counter) -> None:
    """Store a throttle counter."""
    conn.execute(
        """INSERT INTO login_throttle (scope, key, failures, window_started_at, locked_until)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (scope, key) DO UPDATE SET failures = EXCLUDED.failures,
               window_started_at = EXCLUDED.window_started_at,
               locked_until = EXCLUDED.locked_until""",
        (scope, key, counter.failures, counter.window_started_at, counter.locked_until),
    )


def clear_counter(conn: Conn, scope: str, key: str) -> None:
    """Forget a key's failures (after a successful sign-in)."""
    conn.execute("DELETE FROM login_throttle WHERE scope = %s AND key = %s", (scope, key))


def delete_old_counters(conn: Conn, before: datetime) -> int:
    """Remove counters whose window and lock both ended before `before`."""
    cur = conn.execute(
        """DELETE FROM login_throttle WHERE window_started_at < %s
           AND (locked_until IS NULL OR locked_until < %s)""",
        (before, before),
    )
    return cur.rowcount


# --- export ----------------------------------------------------------------------------------


def export_rows(conn: Conn, user_id: int) -> dict[str, Any]:
    """Everything we hold about a user, as JSON-ready rows (no secrets, no digests)."""

    def rows(sql: str) -> list[dict[str, Any]]:
        return list(conn.execute(sql, (user_id,)).fetchall())

    account = conn.execute(
        """SELECT id, email, email_verified_at, tier, timezone, markup_pct, created_at
           FROM users WHERE id = %s""",
        (user_id,),
    ).fetchone()
    return {
        "account": account,
        "subscriptions": rows(
            """SELECT tier, billing_cycle, status, current_period_end, grace_until, created_at
               FROM subscriptions WHERE user_id = %s ORDER BY id"""
        ),
        "notification_preferences": rows(
            "SELECT * FROM notification_preferences WHERE user_id = %s"
        ),
        "notification_channels": rows(
            """SELECT kind, address, verified_at, enabled, created_at
               FROM notification_channels WHERE user_id = %s ORDER BY id"""
        ),
        "tracked_products": rows(
            """SELECT p.url, p.title, t.paused, t.created_at FROM tracked_products t
               JOIN products p ON p.id = t.product_id WHERE t.user_id = %s ORDER BY t.id"""
        ),
        "notifications": rows(
            """SELECT channel, tier, status, due_at, sent_at, glitch_id, created_at
               FROM notification_outbox WHERE user_id = %s ORDER BY id"""
        ),
        "sessions": rows(
            """SELECT created_at, last_seen_at, ip, user_agent FROM user_sessions
               WHERE user_id = %s ORDER BY created_at"""
        ),
    }
