"""Email through SendGrid (v3 mail send, the official `sendgrid` library).

HTML and text come from the Jinja2 templates under notifications/templates; every alert
carries a signed one-click unsubscribe link in its footer and in the List-Unsubscribe and
List-Unsubscribe-Post headers (RFC 8058).
"""

from __future__ import annotations

import http.client
import urllib.error
from typing import Any

from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Header, Mail

from pricehawk.notifications.channels import register
from pricehawk.notifications.channels.errors import from_status, retry_after
from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings

SENDGRID_API = "https://api.sendgrid.com"


def build_mail(message: Message, sender: str) -> dict[str, Any]:
    """The v3 mail-send request body for one message."""
    mail = Mail(
        from_email=sender,
        to_emails=message.address,
        subject=message.subject,
        plain_text_content=message.text,
        html_content=message.html,
    )
    if message.unsubscribe_url:
        mail.header = Header("List-Unsubscribe", f"<{message.unsubscribe_url}>")
        mail.header = Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    if message.outbox_id:
        # comes back in SendGrid's event webhook, tying a bounce to its outbox row
        mail.custom_arg = CustomArg("outbox_id", str(message.outbox_id))
    body: dict[str, Any] = mail.get()
    return body


@register("email")
class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.configured = bool(settings.sendgrid_api_key)
        self.client = SendGridAPIClient(
            api_key=settings.sendgrid_api_key or "unset",
            host=settings.sendgrid_base_url or SENDGRID_API,
        )
        self.sender = settings.email_from
        self.timeout = settings.send_timeout_s

    def send(self, message: Message) -> SendResult:
        """POST /v3/mail/send; SendGrid answers 202 with the message id in X-Message-Id."""
        if not self.configured:
            return SendResult(False, error="email: SENDGRID_API_KEY is not set")
        body = build_mail(message, self.sender)
        try:
            response = self.client.client.mail.send.post(request_body=body, timeout=self.timeout)
        except HTTPError as exc:
            detail = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else ""
            headers = dict(exc.headers.items()) if exc.headers is not None else {}
            return from_status(
                int(exc.status_code), detail, wait_s=retry_after(headers), provider="sendgrid"
            )
        except urllib.error.URLError as exc:
            # urllib wraps only failures while connecting and writing the request: SendGrid
            # never got a whole request, so it is safe to try again.
            return SendResult(False, error=f"sendgrid: not sent: {exc.reason!r}", retryable=True)
        except (OSError, http.client.HTTPException) as exc:
            # the request went out and no answer came back (timeout, dropped connection)
            return SendResult(False, error=f"sendgrid: no answer: {exc!r}", unknown=True)
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return SendResult(True, provider_message_id=f"sendgrid:{message_id or 'accepted'}")
