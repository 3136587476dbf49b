"""An OpenAI-compatible chat-completions stand-in on loopback, for the LLM validator's tests.

It records every request (headers and JSON body), checks what a well-behaved client sends
(POST /v1/chat/completions, a Bearer key when one is expected, a model, messages with a
user turn whose content is the anomaly's facts as JSON) and answers in one of these modes:
  ok        a JSON verdict: a glitch when the facts' discount is at least `glitch_at`
  nonsense  prose instead of JSON
  error     HTTP 500
  hang      waits `hang_s` before answering (for client timeouts)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class LLMStandIn:
    mode: str = "ok"
    api_key: str | None = None
    glitch_at: float = 0.7
    hang_s: float = 5.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, path: str, headers: dict[str, str], body: Any) -> str | None:
        """What is wrong with a request, or None."""
        if path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            return f"unexpected path {path}"
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return "missing or wrong API key"
        if not isinstance(body, dict) or not body.get("model"):
            return "no model"
        messages = body.get("messages")
        if not isinstance(messages, list) or not any(m.get("role") == "user" for m in messages):
            return "no user message"
        user = next(m for m in messages if m.get("role") == "user")
        try:
            json.loads(user["content"])
        except (TypeError, ValueError):
            return "user content is not the anomaly's facts as JSON"
        return None

    def answer(self, body: dict[str, Any]) -> str:
        """The verdict text for a valid request."""
        user = next(m for m in body["messages"] if m.get("role") == "user")
        facts = json.loads(user["content"])
        discount = float(facts.get("discount") or 0)
        is_glitch = discount >= self.glitch_at
        return json.dumps(
            {
                "is_glitch": is_glitch,
                "confidence": 0.93 if is_glitch else 0.8,
                "glitch_type": facts.get("detector_type") if is_glitch else "not_a_glitch",
                "reasoning": f"stand-in: {discount:.0%} off "
                + ("is an error" if is_glitch else "is a plausible sale"),
            }
        )


def _handler(state: LLMStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            state.requests.append({"path": self.path, "headers": headers, "body": body})
            problem = state.check(self.path, headers, body)
            if problem:
                state.problems.append(problem)
                self._send(400, {"error": {"message": problem}})
                return
            if state.mode == "error":
                self._send(500, {"error": {"message": "stand-in failure"}})
                return
            if state.mode == "hang":
                time.sleep(state.hang_s)
            content = (
                "I think this is probably a glitch!"
                if state.mode == "nonsense"
                else (state.answer(body))
            )
            self._send(
                200,
                {
                    "id": f"chatcmpl-{len(state.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
                },
            )

    return Handler


class LLMServer:
    """The stand-in served on a free loopback port; `url` is its OpenAI base URL."""

    def __init__(self, state: LLMStandIn | None = None, port: int = 0) -> None:
        self.state = state or LLMStandIn()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self.state))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> LLMServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
