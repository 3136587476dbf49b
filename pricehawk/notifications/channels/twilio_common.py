"""Twilio Messages (SMS and WhatsApp share it), through the official `twilio` library."""

from __future__ import annotations

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from pricehawk.notifications.channels.errors import from_status
from pricehawk.notifications.models import SendResult
from pricehawk.settings import Settings

TWILIO_API = "https://api.twilio.com"
MAX_BODY = 1600  # Twilio's limit for one message body


def make_client(settings: Settings) -> Client:
    """A Twilio client aimed at TWILIO_BASE_URL (or Twilio), with our timeout and no retries."""
    http_client = TwilioHttpClient(timeout=settings.send_timeout_s)
    # environment={} keeps the library from reading TWILIO_EDGE/REGION out of os.environ.
    client = Client(
        settings.twilio_account_sid or "ACunset",
        settings.twilio_auth_token or "unset",
        http_client=http_client,
        environment={},
    )
    client.api.base_url = settings.twilio_base_url or TWILIO_API
    return client


def send_message(client: Client, *, to: str, sender: str, body: str) -> SendResult:
    """Create one Message; sort Twilio's and the transport's failures."""
    try:
        msg = client.messages.create(to=to, from_=sender, body=body[:MAX_BODY])
    except TwilioRestException as exc:
        return from_status(int(exc.status), f"{exc.code}: {exc.msg}", provider="twilio")
    except requests.ConnectTimeout as exc:
        return SendResult(False, error=f"twilio: not connected: {exc!r}"[:500], retryable=True)
    except requests.ConnectionError as exc:
        if _never_connected(exc):
            return SendResult(False, error=f"twilio: not connected: {exc!r}"[:500], retryable=True)
        return SendResult(False, error=f"twilio: no answer: {exc!r}"[:500], unknown=True)
    except requests.RequestException as exc:  # read timeout and the like
        return SendResult(False, error=f"twilio: no answer: {exc!r}"[:500], unknown=True)
    return SendResult(True, provider_message_id=f"twilio:{msg.sid}")


def _never_connected(exc: requests.ConnectionError) -> bool:
    # requests reports "connection refused" and "connection dropped mid-answer" with the same
    # class; urllib3's NewConnectionError inside tells the first apart.
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return isinstance(inner, NewConnectionError)


def configured(settings: Settings, sender: str) -> str | None:
    """Why Twilio cannot be used with these settings (None: it can)."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set"
    if not sender:
        return "no sender number is set"
    return None
