"""A base for the providers' stand-ins (SendGrid, Twilio, Telegram, Discord).

Each stand-in speaks its provider's wire format on loopback, records every request the client
made, and follows a script of behaviours, one per request, so tests can make it answer 429,
500 or 400, hang (the request arrived; the answer never comes) or drop the connection:

    server.script("429", "ok")       # next request: 429; the one after: accepted
    server.script("hang")            # next request is recorded, then never answered

`deliveries()` lists what the provider would have delivered: accepted requests and hung ones
(which the provider may well have acted on). Tests assert no outbox key appears there twice.
The same controls exist over HTTP: POST /_control {"script": [...]}, GET /_control/requests.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BEHAVIOURS = ("ok", "429", "500", "400", "hang", "drop")


@dataclass
class Recorded:
    """One request a client made, and what the stand-in did with it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    behaviour: str = "ok"
    status: int = 0
    data: Any = None  # parsed JSON or form body
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        """Whether the provider may have acted on it (accepted, or left without an answer)."""
        return (self.behaviour == "ok" and 200 <= self.status < 300) or self.behaviour == "hang"


class StandIn:
    """Subclasses implement `handle(recorded) -> (status, headers, body)` for behaviour 'ok'
    and `error(recorded, status) -> (headers, body)` in their provider's format."""

    name = "provider"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.counter = 0

    # --- lifecycle ---
    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let hung requests finish
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- controls ---
    def script(self, *behaviours: str) -> None:
        """Queue behaviours for the next requests (then 'ok' again)."""
        for b in behaviours:
            if b not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {b!r}; one of {BEHAVIOURS}")
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        """Forget recorded requests and any queued behaviours; end hung requests."""
        self._release.set()
        with self._lock:
            self.requests.clear()
            self._script.clear()
        self._release = threading.Event()

    def release_hung(self) -> None:
        """Let hung requests end (their clients have usually timed out by then)."""
        self._release.set()

    def deliveries(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.delivered]

    def next_id(self) -> int:
        with self._lock:
            self.counter += 1
            return self.counter

    # --- provider specifics ---
    def handle(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def error(self, rec: Recorded, status: int) -> tuple[dict[str, str], bytes]:
        return {"Content-Type": "application/json"}, json.dumps({"error": status}).encode()

    def parse(self, rec: Recorded) -> None:
        ctype = rec.headers.get("content-type", "")
        if "json" in ctype and rec.body:
            rec.data = json.loads(rec.body)
        elif "form" in ctype:
            rec.data = {
                k: v[0] if len(v) == 1 else v for k, v in parse_qs(rec.body.decode()).items()
            }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                if parts.path.startswith("/_control"):
                    self._control(parts.path, body)
                    return
                rec = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with stand_in._lock:
                    rec.behaviour = stand_in._script.popleft() if stand_in._script else "ok"
                    stand_in.requests.append(rec)
                try:
                    stand_in.parse(rec)
                except ValueError:
                    rec.behaviour, rec.status = "ok", 400
                    self._reply(400, *stand_in.error(rec, 400))
                    return
                if rec.behaviour == "hang":
                    stand_in._release.wait(120)
                    self.close_connection = True
                    return
                if rec.behaviour == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if rec.behaviour != "ok":
                    rec.status = int(rec.behaviour)
                    self._reply(rec.status, *stand_in.error(rec, rec.status))
                    return
                status, headers, payload = stand_in.handle(rec)
                rec.status = status
                self._reply(status, headers, payload)

            def _control(self, path: str, body: bytes) -> None:
                if self.command == "POST" and body:
                    stand_in.script(*json.loads(body).get("script", []))
                rows = [
                    {"method": r.method, "path": r.path, "behaviour": r.behaviour,
                     "status": r.status, "data": r.data}
                    for r in stand_in.requests
                ]  # fmt: skip
                self._reply(200, {"Content-Type": "application/json"}, json.dumps(rows).encode())

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names

        return Handler
