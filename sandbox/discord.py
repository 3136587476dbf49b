"""Discord webhook stand-in: POST /api/webhooks/<id>/<token>[?wait=true] with JSON (content or
embeds), answering 204, or 200 with the message when wait=true; 429 carries retry_after."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sandbox.stand_in import Recorded, StandIn


class DiscordStandIn(StandIn):
    name = "discord"

    def webhook_url(self, webhook_id: str = "1001", token: str = "hook-token") -> str:  # noqa: S107
        """A webhook URL on this stand-in (`DISCORD_API_BASE` is `<url>/api`)."""
        return f"{self.url}/api/webhooks/{webhook_id}/{token}"

    def error(self, rec: Recorded, status: int) -> tuple[dict[str, str], bytes]:
        if status == 429:
            body: dict[str, object] = {"message": "You are being rate limited.",
                                       "retry_after": 0.5, "global": False}  # fmt: skip
            return {"Content-Type": "application/json", "Retry-After": "1"}, json.dumps(
                body
            ).encode()
        messages = {400: (50006, "Cannot send an empty message"), 404: (10015, "Unknown Webhook")}
        code, message = messages.get(status, (0, "Internal Server Error"))
        return {"Content-Type": "application/json"}, json.dumps(
            {"code": code, "message": message}
        ).encode()

    def handle(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        parts = rec.path.strip("/").split("/")
        if rec.method != "POST" or len(parts) != 4 or parts[:2] != ["api", "webhooks"]:
            return 404, *self.error(rec, 404)
        body = rec.data or {}
        embeds = body.get("embeds") or []
        if not body.get("content") and not embeds:
            return 400, *self.error(rec, 400)
        if len(embeds) > 10 or any(len(e.get("title", "")) > 256 for e in embeds):
            return 400, *self.error(rec, 400)
        rec.extra["to"] = rec.path
        if rec.query.get("wait") != ["true"]:
            return 204, {}, b""
        message = {"id": str(10**17 + self.next_id()), "channel_id": parts[2], "type": 0,
                   "content": body.get("content", ""), "embeds": embeds,
                   "timestamp": datetime.now(UTC).isoformat(), "webhook_id": parts[2]}  # fmt: skip
        return 200, {"Content-Type": "application/json"}, json.dumps(message).encode()

    @staticmethod
    def recipient(rec: Recorded) -> str:
        return str(rec.extra.get("to") or "")
