"""SMS through Twilio Messages."""

from __future__ import annotations

from pricehawk.notifications.channels import register
from pricehawk.notifications.channels.twilio_common import configured, make_client, send_message
from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings


@register("sms")
class SmsChannel:
    name = "sms"

    def __init__(self, settings: Settings) -> None:
        self.client = make_client(settings)
        self.sender = settings.twilio_sms_from
        self.problem = configured(settings, self.sender)

    def send(self, message: Message) -> SendResult:
        """One SMS: the text only (links count against the length)."""
        if self.problem:
            return SendResult(False, error=f"sms: {self.problem}")
        return send_message(self.client, to=message.address, sender=self.sender, body=message.text)
