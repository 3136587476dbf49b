"""`pricehawk smoke URL`: prove a deploy works, step by step, and name the step that broke.

Steps, in order (each later step needs the earlier ones):
  health     GET /healthz answers 200 (and /readyz, when the portal has one, too)
  database   the configured database answers a query and has every migration applied
  signup     a fresh smoke account signs up through the portal's form (CSRF token included)
  login      ...and logs in again with the same password
  checkout   POST /billing/checkout for a paid plan redirects to a Checkout session
  worker     a `pricehawk worker` heartbeat newer than the start of the smoke test appears

The smoke account (smoke+<random>@pricehawk.invalid) is marked deleted at the end, so
maintenance removes it; nothing is ever sent to it (.invalid never resolves).
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx

from pricehawk import db
from pricehawk.settings import Settings

# The portal routes the smoke test walks (the portal's own names for its pages).
HEALTH_PATHS = ("/healthz",)
OPTIONAL_HEALTH_PATHS = ("/readyz",)
SIGNUP_PATH = "/signup"
LOGIN_PATH = "/login"
CHECKOUT_PATH = "/billing/checkout"
CHECKOUT_PLAN = {"plan": "pro", "cycle": "monthly"}
WORKER_WAIT_S = 20.0

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class SmokeError(RuntimeError):
    """A smoke step failed; the message names the step and what it saw."""


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class SmokeReport:
    url: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    def summary(self) -> str:
        """One line per step; the failing step says what broke."""
        lines = [f"smoke test of {self.url}: {'PASSED' if self.ok else 'FAILED'}"]
        for s in self.steps:
            mark = "ok  " if s.ok else "FAIL"
            lines.append(f"  {mark} {s.name:<9} {s.detail} ({s.seconds:.2f} s)")
        return "\n".join(lines)


def csrf_token(html: str) -> str | None:
    """The CSRF token of the first form on a page, if it has one."""
    match = _CSRF.search(html)
    return (match.group(1) or match.group(2)) if match else None


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise SmokeError(message)


class _Smoke:
    def __init__(self, url: str, settings: Settings, client: httpx.Client) -> None:
        self.url = url.rstrip("/") + "/"
        self.settings = settings
        self.client = client
        self.started = datetime.now(UTC)
        self.email = f"smoke+{uuid.uuid4().hex[:12]}@pricehawk.invalid"
        self.password = f"Smoke-{uuid.uuid4().hex}"

    def _get(self, path: str) -> httpx.Response:
        return self.client.get(urljoin(self.url, path.lstrip("/")))

    def _form(self, path: str, data: dict[str, str]) -> httpx.Response:
        page = self._get(path)
        _expect(page.status_code == 200, f"GET {path} answered {page.status_code}")
        token = csrf_token(page.text)
        if token:
            data = {**data, "csrf_token": token}
        return self.client.post(urljoin(self.url, path.lstrip("/")), data=data)

    def health(self) -> str:
        for path in HEALTH_PATHS:
            r = self._get(path)
            _expect(r.status_code == 200, f"GET {path} answered {r.status_code}: {r.text[:200]}")
        seen = list(HEALTH_PATHS)
        for path in OPTIONAL_HEALTH_PATHS:
            r = self._get(path)
            if r.status_code != 404:
                _expect(r.status_code == 200, f"GET {path} answered {r.status_code}")
                seen.append(path)
        return ", ".join(seen) + " answer 200"

    def database(self) -> str:
        url = db.database_url(self.settings)
        with db.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SELECT count(*) AS n FROM retailers").fetchone()
        pending = [m.id for m in db.migration_status(url) if not m.applied]
        _expect(not pending, f"migrations not applied: {', '.join(pending)}")
        return f"query ok ({row['n'] if row else 0} retailers), migrations at head"

    def signup(self) -> str:
        r = self._form(
            SIGNUP_PATH,
            {"email": self.email, "password": self.password, "confirm": self.password},
        )
        _expect(r.status_code in (200, 302, 303), f"POST {SIGNUP_PATH} answered {r.status_code}")
        with db.connect(db.database_url(self.settings)) as conn:
            row = conn.execute(
                "SELECT id FROM users WHERE lower(email) = lower(%s)", (self.email,)
            ).fetchone()
        _expect(row is not None, f"POST {SIGNUP_PATH} created no account for {self.email}")
        return f"account {self.email} created"

    def login(self) -> str:
        self.client.cookies.clear()
        r = self._form(LOGIN_PATH, {"email": self.email, "password": self.password})
        _expect(r.status_code in (302, 303), f"POST {LOGIN_PATH} answered {r.status_code}"
                " (expected a redirect after a good login)")  # fmt: skip
        _expect(bool(self.client.cookies), f"POST {LOGIN_PATH} set no session cookie")
        return "logged in, session cookie set"

    def checkout(self) -> str:
        r = self._form(CHECKOUT_PATH, dict(CHECKOUT_PLAN))
        location = r.headers.get("location", "")
        _expect(r.status_code in (302, 303) and location.startswith("http"),
                f"POST {CHECKOUT_PATH} answered {r.status_code} {location!r}"
                " (expected a redirect to a Checkout session)")  # fmt: skip
        return f"Checkout session at {location.split('?')[0]}"

    def worker(self) -> str:
        deadline = time.monotonic() + WORKER_WAIT_S
        url = db.database_url(self.settings)
        while True:
            with db.connect(url) as conn:
                row = conn.execute(
                    "SELECT worker, beat_at FROM worker_heartbeats WHERE role = 'worker'"
                    " AND beat_at > %s ORDER BY beat_at DESC LIMIT 1",
                    (self.started,),
                ).fetchone()
            if row:
                return f"worker {row['worker']} ran a pass at {row['beat_at']:%H:%M:%S}"
            _expect(time.monotonic() < deadline,
                    f"no `pricehawk worker` ran a pass in {WORKER_WAIT_S:.0f} s")  # fmt: skip
            time.sleep(0.5)

    def cleanup(self) -> None:
        with db.connect(db.database_url(self.settings)) as conn:
            conn.execute(
                "UPDATE users SET deleted_at = coalesce(deleted_at, now())"
                " WHERE lower(email) = lower(%s)",
                (self.email,),
            )
            conn.commit()


def run_smoke(
    url: str,
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    stop_on_failure: bool = True,
) -> SmokeReport:
    """Run every step against the portal at `url` and the configured database."""
    report = SmokeReport(url)
    own = client is None
    http = client or httpx.Client(timeout=15.0, follow_redirects=False)
    smoke = _Smoke(url, settings, http)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("health", smoke.health),
        ("database", smoke.database),
        ("signup", smoke.signup),
        ("login", smoke.login),
        ("checkout", smoke.checkout),
        ("worker", smoke.worker),
    ]
    try:
        for name, step in steps:
            t0 = time.monotonic()
            try:
                detail = step()
                report.steps.append(Step(name, True, detail, time.monotonic() - t0))
            except Exception as exc:  # noqa: BLE001
                # Any error is the step's failure: the report names the step and the error.
                detail = str(exc) or type(exc).__name__
                report.steps.append(Step(name, False, detail, time.monotonic() - t0))
                if stop_on_failure:
                    break
    finally:
        # Cleanup must never hide the report of what broke.
        with contextlib.suppress(Exception):
            smoke.cleanup()
        if own:
            http.close()
    return report
