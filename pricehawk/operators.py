"""Operator accounts for the console: argon2id passwords, roles, and sign-in with lockout.

Operators are not subscribers: their own table, their own usernames, created from the
command line (`pricehawk operator create`), never through a web form.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("viewer", "operator", "admin")
# Operators can pause crawls and resend alerts: a longer minimum than subscribers get.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class OperatorError(ValueError):
    """An operator account cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    role: str

    @property
    def can_act(self) -> bool:
        """Whether this operator may use the console's levers (viewers only look)."""
        return can_act(self.role)

    @property
    def actor(self) -> str:
        """How the audit log names this operator."""
        return f"operator:{self.username}"


@dataclass(frozen=True)
class SignIn:
    operator: Operator | None
    error: str = ""


def can_act(role: str) -> bool:
    """Viewers only look; operators and admins may act."""
    return role in ("operator", "admin")


@functools.lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 (the portal's too).
    return PasswordHasher(
        time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
    )


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("no such operator; same cost as a real check")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of a password (NFKC-normalised first)."""
    return _hasher().hash(unicodedata.normalize("NFKC", password))


def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches; an unknown account costs the same time as a known one."""
    try:
        _hasher().verify(stored or _dummy_hash(), unicodedata.normalize("NFKC", password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored is not None


def username_problem(username: str) -> str:
    """What is wrong with a username (empty: fine)."""
    if not _USERNAME.match(username):
        return (
            "Use 2-64 lowercase letters, digits, '.', '_' or '-' (starting with a letter or digit)."
        )
    return ""


def password_problem(password: str, username: str = "") -> str:
    """What is wrong with an operator password (empty: fine)."""
    normal = unicodedata.normalize("NFKC", password)
    if len(normal) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(normal) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if username and username.lower() in normal.lower():
        return "Don't put the username in the password."
    if len(set(normal)) < 4:
        return "Use more than three different characters."
    return ""


def locked_until(failed_logins: int, now: datetime) -> datetime | None:
    """After MAX_FAILED_LOGINS failures in a row the account waits LOCKOUT before the next try."""
    return now + LOCKOUT if failed_logins >= MAX_FAILED_LOGINS else None


def create_operator(
    conn: Any, username: str, password: str, role: str = "operator", *, actor: str = "cli"
) -> Operator:
    """Create an operator account (and its audit row); raise OperatorError when invalid."""
    username = username.strip().lower()
    problem = (
        username_problem(username)
        or password_problem(password, username)
        or ("" if role in ROLES else f"Role must be one of {', '.join(ROLES)}.")
    )
    if problem:
        raise OperatorError(problem)
    row = conn.execute(
        """INSERT INTO operators (username, password_hash, role) VALUES (%s, %s, %s)
           ON CONFLICT (username) DO NOTHING RETURNING id""",
        (username, hash_password(password), role),
    ).fetchone()
    if row is None:
        raise OperatorError(f"An operator named {username!r} already exists.")
    conn.execute(
        """INSERT INTO audit_log (actor, action, target, before, after)
           VALUES (%s, 'operator.create', %s, NULL, %s)""",
        (actor, f"operator:{username}", json.dumps({"role": role})),
    )
    return Operator(int(row["id"]), username, role)


def sign_in(conn: Any, username: str, password: str, now: datetime) -> SignIn:
    """Check a sign-in; count failures, lock after too many, audit the outcome.

    The caller commits: a failure is recorded even though it is reported as an error.
    """
    # Typed by anyone: cut before it lands in the audit log.
    username = username.strip().lower()[:64]
    row = conn.execute(
        """SELECT id, username, password_hash, role, failed_logins, locked_until, disabled_at
             FROM operators WHERE username = %s FOR UPDATE""",
        (username,),
    ).fetchone()
    generic = "Unknown username or wrong password."
    if row is None:
        check_password(None, password)  # same cost as a known account
        _audit_sign_in(conn, username, "operator.sign_in_failed", {"reason": "unknown"})
        return SignIn(None, generic)
    if row["disabled_at"] is not None:
        check_password(None, password)
        _audit_sign_in(conn, username, "operator.sign_in_failed", {"reason": "disabled"})
        return SignIn(None, generic)
    if row["locked_until"] is not None and row["locked_until"] > now:
        _audit_sign_in(conn, username, "operator.sign_in_failed", {"reason": "locked"})
        return SignIn(None, "Too many failed attempts; try again later.")
    if not check_password(row["password_hash"], password):
        failures = row["failed_logins"] + 1
        until = locked_until(failures, now)
        conn.execute(
            "UPDATE operators SET failed_logins = %s, locked_until = %s WHERE id = %s",
            (0 if until else failures, until, row["id"]),
        )
        _audit_sign_in(
            conn, username, "operator.sign_in_failed", {"reason": "password", "locked": bool(until)}
        )
        return SignIn(None, generic)
    if _hasher().check_needs_rehash(row["password_hash"]):
        conn.execute(
            "UPDATE operators SET password_hash = %s WHERE id = %s",
            (hash_password(password), row["id"]),
        )
    conn.execute(
        """UPDATE operators SET failed_logins = 0, locked_until = NULL, last_login_at = %s
            WHERE id = %s""",
        (now, row["id"]),
    )
    _audit_sign_in(conn, username, "operator.sign_in", {"role": row["role"]})
    return SignIn(Operator(int(row["id"]), row["username"], row["role"]))


def _audit_sign_in(conn: Any, username: str, action: str, after: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor, action, target, after) VALUES (%s, %s, %s, %s)",
        (f"operator:{username}", action, f"operator:{username}", json.dumps(after)),
    )


def list_operators(conn: Any) -> list[dict[str, Any]]:
    """Every operator account (never the hash)."""
    rows = conn.execute(
        """SELECT username, role, last_login_at, locked_until, disabled_at, created_at
             FROM operators ORDER BY username"""
    ).fetchall()
    return [dict(r) for r in rows]
