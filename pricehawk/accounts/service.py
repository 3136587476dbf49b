"""Account use cases: sign-up, sign-in, sessions, email tokens, password changes, deletion.

Every function takes the pool and plain values, and returns what the caller must do next
(emails to send after commit, a cookie to set). Emails are returned rather than sent so the
portal can send them after the transaction, off the request path: a response then takes the
same time whether or not an email went out (no account enumeration by timing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from pricehawk.accounts import emails as mails
from pricehawk.accounts import passwords, queries, throttle, tokens
from pricehawk.accounts.models import Email, Session, User
from pricehawk.db import transaction
from pricehawk.settings import Settings

Pool = ConnectionPool[Any]

# ASVS 3.3.2 (level 2): re-authenticate after 30 minutes idle or 12 hours in all.
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# last_seen_at is written at most this often, not on every request
TOUCH_EVERY = timedelta(minutes=1)
VERIFY_TTL = timedelta(hours=24)
RESET_TTL = timedelta(hours=1)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


def now_utc() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def email_problem(email: str) -> str | None:
    """What is wrong with an email address as typed (None: it looks deliverable)."""
    if not email:
        return "Enter your email address."
    if len(email) > 254 or not _EMAIL.match(email):
        return "Enter an email address like name@example.com."
    return None


@dataclass
class Result:
    """The outcome of a form: field errors (field -> plain words), emails to send, and for
    a sign-in, the new session's cookie value."""

    errors: dict[str, str] = field(default_factory=dict)
    emails: list[Email] = field(default_factory=list)
    session_token: str | None = None
    device_cookie: str | None = None
    retry_after: int = 0
    user: User | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


# --- sign-up and email verification -----------------------------------------------------------


def signup(pool: Pool, settings: Settings, email: str, password: str) -> Result:
    """Create an account and email a verification link; a taken address gets a notice
    instead, and the caller's response is the same either way."""
    email = email.strip()
    errors: dict[str, str] = {}
    if problem := email_problem(email):
        errors["email"] = problem
    if problems := passwords.password_problems(password, email):
        errors["password"] = problems[0]
    if errors:
        return Result(errors)
    # Hash before looking the address up, so both branches spend the same time.
    password_hash = passwords.hash_password(passwords.normalize_password(password))
    with transaction(pool) as conn:
        user = queries.insert_user(conn, email, password_hash)
        if user is None:
            return Result(emails=[mails.already_registered_email(settings, email)])
        token = _issue_token(conn, user.id, "verify_email", email, VERIFY_TTL)
        queries.audit(conn, f"user:{user.id}", "account.created", f"user:{user.id}")
    return Result(emails=[mails.verification_email(settings, email, token)], user=user)


def resend_verification(pool: Pool, settings: Settings, user: User) -> Result:
    """A fresh verification link for a signed-in, unverified user."""
    if user.verified:
        return Result()
    with transaction(pool) as conn:
        token = _issue_token(conn, user.id, "verify_email", user.email, VERIFY_TTL)
    return Result(emails=[mails.verification_email(settings, user.email, token)])


def _issue_token(conn: queries.Conn, user_id: int, purpose: str, email: str, ttl: timedelta) -> str:
    now = now_utc()
    queries.void_tokens(conn, user_id, purpose, now)  # only the newest link works
    token = tokens.new_token()
    queries.insert_token(conn, tokens.digest(token), user_id, purpose, email, now + ttl)
    return token


def confirm_email(pool: Pool, settings: Settings, token: str) -> Result:
    """Use a verification or email-change link; errors['token'] when it is not valid."""
    digest = tokens.digest(token)
    now = now_utc()
    with transaction(pool) as conn:
        row = queries.consume_token(conn, digest, "verify_email", now)
        if row:
            if not queries.mark_verified(conn, row["user_id"], row["email"]):
                return Result({"token": "This link is for an address the account no longer uses."})
            return Result(emails=[mails.welcome_email(settings, row["email"])])
        row = queries.consume_token(conn, digest, "change_email", now)
        if row:
            old = queries.user_by_id(conn, row["user_id"])
            if old is None or not queries.change_email(conn, row["user_id"], row["email"]):
                return Result({"token": "That address is no longer available."})
            queries.audit(conn, f"user:{old.id}", "account.email_changed", f"user:{old.id}")
            return Result(emails=[mails.email_changed_notice(settings, old.email, row["email"])])
    return Result({"token": "This link is invalid, already used, or expired."})


# --- sign-in, sessions ---------------------------------------------------------------------


def _account_key(email: str) -> str:
    # a digest, so the throttle table holds no email addresses
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def login(
    pool: Pool,
    settings: Settings,
    email: str,
    password: str,
    ip: str,
    user_agent: str | None,
    device: str | None,
) -> Result:
    """Check credentials under throttling and open a new session.

    Failures count against the client's address and either the account (browsers that never
    signed in to it) or the browser's trusted-device cookie; a locked key answers the same
    whether or not the password was right, and whether or not the account exists.
    """
    now = now_utc()
    known_device = tokens.read_device_cookie(settings.secret_key, device)
    account_key = _account_key(email)
    with transaction(pool) as conn:
        user = queries.user_by_email(conn, email.strip())
        trusted = bool(known_device and user and known_device[0] == user.id)
        keys = [("ip", ip)]
        keys.append(
            ("device", known_device[1]) if trusted and known_device else ("account", account_key)
        )
        counters = queries.counters(conn, keys)
        current = [counters.get(k) for k in keys]
        if any(throttle.is_locked(c, now) for c in current):
            wait = throttle.retry_after(current, now)
            minutes = max(1, (wait + 59) // 60)
            return Result(
                {"form": f"Too many attempts. Try again in {minutes} minute(s)."}, retry_after=wait
            )
        checked = passwords.verify_password(
            user.password_hash if user else None, passwords.normalize_password(password)
        )
        if not (user and checked.ok):
            for key, counter in zip(keys, current, strict=True):
                queries.save_counter(
                    conn,
                    key[0],
                    key[1],
                    throttle.after_failure(counter, now, throttle.LIMITS[key[0]]),
                )
            queries.audit(conn, f"ip:{ip}", "login.failed", None)
            return Result({"form": "Email or password is incorrect."})
        if checked.needs_rehash:
            queries.set_password_hash(
                conn, user.id, passwords.hash_password(passwords.normalize_password(password))
            )
        for key in keys:
            queries.clear_counter(conn, key[0], key[1])
        token = _open_session(conn, user.id, ip, user_agent)
        queries.audit(conn, f"user:{user.id}", "login.succeeded", f"user:{user.id}")
    device_value = device if trusted else tokens.device_cookie(settings.secret_key, user.id)
    return Result(session_token=token, device_cookie=device_value, user=user)


def _open_session(conn: queries.Conn, user_id: int, ip: str | None, ua: str | None) -> str:
    token = tokens.new_token()
    queries.insert_session(conn, tokens.digest(token), user_id, ip, ua)
    return token


def session_expired(session: Session, now: datetime) -> bool:
    """Whether a session has passed its idle or absolute timeout (pure)."""
    return now - session.last_seen_at > IDLE_TIMEOUT or now - session.created_at > ABSOLUTE_TIMEOUT


def load_session(pool: Pool, token: str | None) -> tuple[User, Session] | None:
    """The user and session behind a session cookie, or None (an expired one is deleted)."""
    if not token or len(token) > 100:
        return None
    digest = tokens.digest(token)
    now = now_utc()
    with transaction(pool) as conn:
        session = queries.session_by_id(conn, digest)
        if session is None:
            return None
        if session_expired(session, now):
            queries.delete_session(conn, digest)
            return None
        user = queries.user_by_id(conn, session.user_id)
        if user is None:
            return None
        if now - session.last_seen_at > TOUCH_EVERY:
            queries.touch_session(conn, digest, now)
    return user, session


def logout(pool: Pool, token: str | None) -> None:
    """End the session behind a cookie (the cookie is worthless afterwards)."""
    if token:
        with transaction(pool) as conn:
            queries.delete_session(conn, tokens.digest(token))


def sessions(pool: Pool, user: User) -> list[Session]:
    """A user's open sessions."""
    with transaction(pool) as conn:
        return queries.sessions_of(conn, user.id)


def end_session(pool: Pool, user: User, session_id: str) -> bool:
    """End one of the user's own sessions."""
    with transaction(pool) as conn:
        return queries.delete_session(conn, session_id, user_id=user.id)


def end_other_sessions(pool: Pool, user: User, keep: str | None) -> int:
    """End every session of the user except `keep` (the current one)."""
    with transaction(pool) as conn:
        return queries.delete_user_sessions(conn, user.id, keep=keep)


# --- password reset and changes --------------------------------------------------------------


def request_reset(pool: Pool, settings: Settings, email: str) -> Result:
    """Email a single-use reset link if the account exists; the caller answers the same way
    whether it does or not."""
    email = email.strip()
    if problem := email_problem(email):
        return Result({"email": problem})
    with transaction(pool) as conn:
        user = queries.user_by_email(conn, email)
        if user is None:
            return Result()
        token = _issue_token(conn, user.id, "reset_password", user.email, RESET_TTL)
    return Result(emails=[mails.reset_email(settings, user.email, token)])


def reset_token_valid(pool: Pool, token: str) -> bool:
    """Whether a reset link can still be used (without using it up)."""
    with transaction(pool) as conn:
        return (
            queries.token_row(conn, tokens.digest(token), "reset_password", now_utc()) is not None
        )


def reset_password(pool: Pool, settings: Settings, token: str, password: str) -> Result:
    """Set a new password through a reset link: the link is used up, every session of the
    account ends, and the owner is told."""
    now = now_utc()
    with transaction(pool) as conn:
        row = queries.token_row(conn, tokens.digest(token), "reset_password", now)
        if row is None:
            return Result({"token": "This link is invalid, already used, or expired."})
        if problems := passwords.password_problems(password, row["email"]):
            return Result({"password": problems[0]})
        if queries.consume_token(conn, tokens.digest(token), "reset_password", now) is None:
            return Result({"token": "This link is invalid, already used, or expired."})
        user_id = row["user_id"]
        queries.set_password_hash(
            conn, user_id, passwords.hash_password(passwords.normalize_password(password))
        )
        queries.void_tokens(conn, user_id, "reset_password", now)
        queries.delete_user_sessions(conn, user_id)
        # following the emailed link proves the mailbox is theirs
        queries.mark_verified(conn, user_id, row["email"])
        queries.audit(conn, f"user:{user_id}", "password.reset", f"user:{user_id}")
    return Result(emails=[mails.password_changed_email(settings, row["email"])])


def _check_current(conn: queries.Conn, user: User, password: str) -> bool:
    fresh = queries.user_by_id(conn, user.id)
    return bool(
        fresh
        and passwords.verify_password(
            fresh.password_hash, passwords.normalize_password(password)
        ).ok
    )


def change_password(
    pool: Pool,
    settings: Settings,
    user: User,
    session_id: str,
    current: str,
    new: str,
    ip: str | None,
    user_agent: str | None,
) -> Result:
    """Change the password (the current one is required); every other session ends and the
    current one is rotated to a new id."""
    with transaction(pool) as conn:
        if not _check_current(conn, user, current):
            return Result({"current_password": "Your current password is not correct."})
        if problems := passwords.password_problems(new, user.email):
            return Result({"new_password": problems[0]})
        queries.set_password_hash(
            conn, user.id, passwords.hash_password(passwords.normalize_password(new))
        )
        queries.delete_user_sessions(conn, user.id)
        token = _open_session(conn, user.id, ip, user_agent)
        queries.void_tokens(conn, user.id, "reset_password", now_utc())
        queries.audit(conn, f"user:{user.id}", "password.changed", f"user:{user.id}")
    return Result(emails=[mails.password_changed_email(settings, user.email)], session_token=token)


def start_email_change(
    pool: Pool, settings: Settings, user: User, password: str, new_email: str
) -> Result:
    """Email a confirmation link to a new address (the current password is required); the
    change happens when the link is followed."""
    new_email = new_email.strip()
    if problem := email_problem(new_email):
        return Result({"new_email": problem})
    with transaction(pool) as conn:
        if not _check_current(conn, user, password):
            return Result({"password": "Your current password is not correct."})
        if new_email.lower() == user.email.lower():
            return Result({"new_email": "That is already your address."})
        taken = queries.user_by_email(conn, new_email) is not None
        if taken:
            # same answer as for a free address; the owner of that one is told instead
            return Result(emails=[mails.already_registered_email(settings, new_email)])
        token = _issue_token(conn, user.id, "change_email", new_email, VERIFY_TTL)
    return Result(emails=[mails.email_change_email(settings, new_email, token)])


# --- deletion and export -----------------------------------------------------------------


def delete_account(
    pool: Pool,
    settings: Settings,
    user: User,
    password: str,
    cancel_billing: Callable[[int], None],
) -> Result:
    """Delete the account and its personal data, after cancelling its subscription.

    `cancel_billing(user_id)` must raise when it cannot cancel: the account is then kept, so
    nobody goes on paying for an account that no longer exists.
    """
    with transaction(pool) as conn:
        if not _check_current(conn, user, password):
            return Result({"password": "Your current password is not correct."})
    try:
        cancel_billing(user.id)
    except Exception:  # noqa: BLE001 - any failure to cancel keeps the account
        return Result(
            {
                "form": "We could not cancel your subscription just now; nothing was deleted. "
                "Try again in a few minutes."
            }
        )
    with transaction(pool) as conn:
        queries.delete_user(conn, user.id)
        queries.audit(conn, f"user:{user.id}", "account.deleted", f"user:{user.id}")
    return Result(emails=[mails.account_deleted_email(settings, user.email)])


def export_data(pool: Pool, user: User) -> dict[str, Any]:
    """Everything held about the user, JSON-ready."""
    with transaction(pool) as conn:
        data = queries.export_rows(conn, user.id)
    data["exported_at"] = now_utc()
    return data


def sweep(pool: Pool) -> dict[str, int]:
    """Remove expired sessions and stale throttle counters (run periodically)."""
    now = now_utc()
    with transaction(pool) as conn:
        ended = queries.delete_stale_sessions(conn, now - IDLE_TIMEOUT, now - ABSOLUTE_TIMEOUT)
        counters = queries.delete_old_counters(conn, now - timedelta(days=1))
    return {"sessions": ended, "throttle_counters": counters}
