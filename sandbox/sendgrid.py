"""SendGrid v3 stand-in: POST /v3/mail/send answers 202 with X-Message-Id, as SendGrid does.

It checks what SendGrid checks that our client could get wrong: the bearer key, a sender, at
least one recipient, a subject and content.
"""

from __future__ import annotations

import json
import uuid

from sandbox.stand_in import Recorded, StandIn


class SendGridStandIn(StandIn):
    name = "sendgrid"

    def __init__(self, api_key: str = "SG.test-key", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.api_key = api_key

    def error(self, rec: Recorded, status: int) -> tuple[dict[str, str], bytes]:
        messages = {429: "too many requests", 500: "internal error", 401: "unauthorized"}
        body = {"errors": [{"message": messages.get(status, "bad request"), "field": None}]}
        return {"Content-Type": "application/json"}, json.dumps(body).encode()

    def handle(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        if rec.method != "POST" or rec.path != "/v3/mail/send":
            return 404, *self.error(rec, 404)
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, *self.error(rec, 401)
        mail = rec.data or {}
        tos = [t.get("email") for p in mail.get("personalizations", []) for t in p.get("to", [])]
        if not tos or not (mail.get("from") or {}).get("email") or not mail.get("content"):
            return 400, *self.error(rec, 400)
        if not mail.get("subject") and not any(p.get("subject") for p in mail["personalizations"]):
            return 400, *self.error(rec, 400)
        rec.extra["to"] = tos[0]
        rec.extra["outbox_id"] = (mail.get("custom_args") or {}).get("outbox_id")
        return 202, {"X-Message-Id": uuid.uuid4().hex[:22]}, b""

    @staticmethod
    def recipient(rec: Recorded) -> str:
        return str(rec.extra.get("to") or "")
