"""Account emails: what they say, and how they leave (SendGrid, or the file outbox).

Links are always built from PRICEHAWK_PUBLIC_BASE_URL, never from a request's Host header
(a forged Host would otherwise send a victim's reset link to the attacker's site).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from typing import Any

from pricehawk.accounts.models import Email
from pricehawk.settings import Settings

log = logging.getLogger(__name__)


def link(settings: Settings, path: str) -> str:
    """An absolute link to a portal path, from the configured public base URL."""
    return settings.public_base_url.rstrip("/") + "/" + path.lstrip("/")


def verification_email(settings: Settings, to: str, token: str) -> Email:
    """The 'confirm your address' message."""
    url = link(settings, f"/verify-email/{token}")
    return Email(
        to,
        "Confirm your PriceHawk email address",
        f"Welcome to PriceHawk.\n\nConfirm this address within 24 hours:\n{url}\n\n"
        "If you did not sign up, ignore this message.",
        "verify_email",
    )


def already_registered_email(settings: Settings, to: str) -> Email:
    """Sent instead of a verification when someone signs up with a taken address."""
    return Email(
        to,
        "Someone tried to sign up with your address",
        "Someone (perhaps you) tried to create a PriceHawk account with this address, which "
        f"already has one.\n\nSign in: {link(settings, '/login')}\n"
        f"Forgot your password? {link(settings, '/forgot-password')}",
        "already_registered",
    )


def reset_email(settings: Settings, to: str, token: str) -> Email:
    """The password reset link."""
    url = link(settings, f"/reset-password/{token}")
    return Email(
        to,
        "Reset your PriceHawk password",
        f"Choose a new password within one hour:\n{url}\n\n"
        "The link works once. If you did not ask for it, ignore this message.",
        "reset_password",
    )


def password_changed_email(settings: Settings, to: str) -> Email:
    """Tells the owner their password changed (and every session was ended)."""
    return Email(
        to,
        "Your PriceHawk password was changed",
        "Your password was changed and your other sessions were signed out.\n"
        f"If this was not you, reset it now: {link(settings, '/forgot-password')}",
        "password_changed",
    )


def email_change_email(settings: Settings, to: str, token: str) -> Email:
    """Asks the new address to confirm an email change."""
    url = link(settings, f"/verify-email/{token}")
    return Email(
        to,
        "Confirm your new PriceHawk email address",
        f"Confirm this address for your PriceHawk account within 24 hours:\n{url}",
        "change_email",
    )


def email_changed_notice(settings: Settings, to: str, new_email: str) -> Email:
    """Tells the old address that the account moved."""
    return Email(
        to,
        "Your PriceHawk email address was changed",
        f"Your account's email is now {new_email}. If this was not you, contact support.",
        "email_changed",
    )


def welcome_email(settings: Settings, to: str) -> Email:
    """Sent once the address is confirmed."""
    return Email(
        to,
        "Welcome to PriceHawk",
        "Your address is confirmed. Choose a plan and set your deal preferences:\n"
        f"{link(settings, '/billing')}",
        "welcome",
    )


def payment_failed_email(settings: Settings, to: str, grace_days: int) -> Email:
    """Sent when a renewal payment fails: the grace period has started."""
    return Email(
        to,
        "Your PriceHawk payment failed",
        f"We could not take your subscription payment. Your plan stays active for {grace_days} "
        f"days while you update your card:\n{link(settings, '/billing')}",
        "payment_failed",
    )


def account_deleted_email(settings: Settings, to: str) -> Email:
    """Confirms a deletion (sent to the address that was just erased)."""
    return Email(
        to,
        "Your PriceHawk account was deleted",
        "Your account, its personal data and its subscription are gone. Thank you for trying "
        "PriceHawk.",
        "account_deleted",
    )


def send_account_email(settings: Settings, email: Email) -> None:
    """Send one account email through SendGrid, or write it to the file outbox when SendGrid
    is not configured (the demo and the tests read it there)."""
    if email.kind == "welcome":
        # the notifications domain's own welcome email, once it provides one
        import pricehawk.notifications as notifications

        sender = getattr(notifications, "send_welcome_email", None)
        if callable(sender):
            sender(settings, email.to)
            return
    if settings.sendgrid_api_key:
        _send_sendgrid(settings, email)
    else:
        _write_outbox(settings, email)


def _send_sendgrid(settings: Settings, email: Email) -> None:
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    kwargs: dict[str, Any] = {"api_key": settings.sendgrid_api_key}
    if settings.sendgrid_base_url:
        kwargs["host"] = settings.sendgrid_base_url.rstrip("/")
    client = SendGridAPIClient(**kwargs)
    message = Mail(
        from_email=settings.email_from,
        to_emails=email.to,
        subject=email.subject,
        plain_text_content=email.text,
    )
    response = client.send(message)
    log.info("account email %s sent (status %s)", email.kind, response.status_code)


def outbox_dir(settings: Settings) -> Any:
    """Where account emails are written when SendGrid is not configured."""
    return settings.home / "outbox" / "account-email"


def _write_outbox(settings: Settings, email: Email) -> None:
    folder = outbox_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {"to": email.to, "subject": email.subject, "text": email.text, "kind": email.kind}
        )
    )
    os.replace(tmp, target)


def read_outbox(settings: Settings) -> list[dict[str, str]]:
    """Every account email in the file outbox, oldest first (demo and tests)."""
    folder = outbox_dir(settings)
    if not folder.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
