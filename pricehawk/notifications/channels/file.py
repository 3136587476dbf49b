"""The `file` channel: one file per message under PRICEHAWK_HOME/outbox/ (demo, tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pricehawk.notifications.channels import register
from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings


@register("file")
class FileChannel:
    name = "file"

    def __init__(self, settings: Settings) -> None:
        self.root = settings.home / "outbox"

    def send(self, message: Message) -> SendResult:
        """Write the message atomically to <root>/<address>/<outbox id>.json."""
        folder = self.root / Path(message.address).name  # an address never escapes root
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{message.outbox_id}.json"
            tmp = target.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {"subject": message.subject, "text": message.text, "url": message.url},
                    indent=2,
                )
            )
            os.replace(tmp, target)
        except OSError as exc:
            return SendResult(False, error=f"cannot write {message.address}: {exc}")
        return SendResult(True, provider_message_id=f"file:{target.name}")
