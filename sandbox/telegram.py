"""Telegram Bot API stand-in: POST /bot<token>/sendMessage, answering as the Bot API does
({"ok": true, "result": Message} or {"ok": false, "error_code", "description", "parameters"}).

It parses MarkdownV2 the way Telegram refuses it: a reserved character that is neither escaped
nor part of an entity is "Bad Request: can't parse entities".
"""

from __future__ import annotations

import json
import re
import time

from sandbox.stand_in import Recorded, StandIn

_RESERVED = set("_*[]()~`>#+-=|{}.!")
_ENTITY = re.compile(r"\*[^*]+\*|_[^_]+_|\[[^\]]+\]\((?:[^)\\]|\\.)+\)")


def markdown_v2_error(text: str) -> str | None:
    """Why Telegram would reject `text` as MarkdownV2 (None: it parses)."""
    i = 0
    plain = []
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            plain.append("x")
            i += 2
            continue
        plain.append(text[i])
        i += 1
    flat = _ENTITY.sub("", "".join(plain))
    bad = sorted(set(flat) & _RESERVED)
    if bad:
        return (
            "Bad Request: can't parse entities: character"
            f" '{bad[0]}' is reserved and must be escaped"
        )
    return None


class TelegramStandIn(StandIn):
    name = "telegram"

    def __init__(self, token: str = "123456:test-token", **kwargs: object) -> None:  # noqa: S107
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.token = token

    def error(self, rec: Recorded, status: int) -> tuple[dict[str, str], bytes]:
        descriptions = {400: "Bad Request: chat not found", 401: "Unauthorized",
                        403: "Forbidden: bot was blocked by the user",
                        429: "Too Many Requests: retry after 1",
                        500: "Internal Server Error"}  # fmt: skip
        body: dict[str, object] = {"ok": False, "error_code": status,
                                   "description": descriptions.get(status, "Error")}  # fmt: skip
        if status == 429:
            body["parameters"] = {"retry_after": 1}
        return {"Content-Type": "application/json"}, json.dumps(body).encode()

    def handle(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        if rec.path != f"/bot{self.token}/sendMessage":
            return 401, *self.error(rec, 401)
        msg = rec.data or {}
        chat_id, text = msg.get("chat_id"), msg.get("text") or ""
        if chat_id in (None, "") or not text:
            return 400, *self.error(rec, 400)
        if msg.get("parse_mode") == "MarkdownV2":
            problem = markdown_v2_error(text)
            if problem:
                body = {"ok": False, "error_code": 400, "description": problem}
                return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
        rec.extra["to"] = str(chat_id)
        result = {"message_id": self.next_id(), "date": int(time.time()),
                  "chat": {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id,
                           "type": "private"},
                  "text": text}  # fmt: skip
        payload = json.dumps({"ok": True, "result": result}).encode()
        return 200, {"Content-Type": "application/json"}, payload

    @staticmethod
    def recipient(rec: Recorded) -> str:
        return str(rec.extra.get("to") or "")
