"""Twilio Messages stand-in: POST /2010-04-01/Accounts/{sid}/Messages.json (form body, basic
auth) answers 201 with a Message resource, or Twilio's JSON error object."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from sandbox.stand_in import Recorded, StandIn


class TwilioStandIn(StandIn):
    name = "twilio"

    def __init__(
        self,
        account_sid: str = "ACtest",
        auth_token: str = "twilio-token",  # noqa: S107 - the stand-in's own test credential
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.account_sid = account_sid
        self.auth_token = auth_token

    def error(self, rec: Recorded, status: int) -> tuple[dict[str, str], bytes]:
        codes = {400: (21211, "The 'To' number is not a valid phone number."),
                 401: (20003, "Authentication Error"),
                 429: (20429, "Too Many Requests"),
                 500: (20500, "Internal Server Error")}  # fmt: skip
        code, message = codes.get(status, (20001, "Error"))
        body = {"code": code, "message": message, "more_info":
                f"https://www.twilio.com/docs/errors/{code}", "status": status}  # fmt: skip
        return {"Content-Type": "application/json"}, json.dumps(body).encode()

    def handle(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if rec.method != "POST" or rec.path != expected:
            return 404, *self.error(rec, 404)
        creds = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if rec.headers.get("authorization") != f"Basic {creds}":
            return 401, *self.error(rec, 401)
        form = rec.data or {}
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        number = to.removeprefix("whatsapp:")
        if not number.startswith("+") or not number[1:].isdigit() or not sender or not body:
            return 400, *self.error(rec, 400)
        rec.extra["to"] = to
        sid = "SM" + uuid.uuid4().hex
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message = {
            "sid": sid, "account_sid": self.account_sid, "to": to, "from": sender, "body": body,
            "status": "queued", "num_segments": "1", "direction": "outbound-api",
            "date_created": now, "date_updated": now, "date_sent": None, "price": None,
            "error_code": None, "error_message": None, "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }  # fmt: skip
        return 201, {"Content-Type": "application/json"}, json.dumps(message).encode()

    @staticmethod
    def recipient(rec: Recorded) -> str:
        return str(rec.extra.get("to") or "")
