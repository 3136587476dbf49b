"""WhatsApp through Twilio Messages (whatsapp:+E.164 addresses)."""

from __future__ import annotations

from pricehawk.notifications.channels import register
from pricehawk.notifications.channels.twilio_common import configured, make_client, send_message
from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings


def whatsapp_address(number: str) -> str:
    """`+15551234567` -> `whatsapp:+15551234567` (already prefixed: unchanged)."""
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


@register("whatsapp")
class WhatsAppChannel:
    name = "whatsapp"

    def __init__(self, settings: Settings) -> None:
        self.client = make_client(settings)
        self.sender = settings.twilio_whatsapp_from
        self.problem = configured(settings, self.sender)

    def send(self, message: Message) -> SendResult:
        """One WhatsApp message through Twilio."""
        if self.problem:
            return SendResult(False, error=f"whatsapp: {self.problem}")
        return send_message(
            self.client,
            to=whatsapp_address(message.address),
            sender=whatsapp_address(self.sender),
            body=message.text,
        )
