"""`pricehawk smoke URL`: prove a deploy works, step by step, and name the step that broke.

Steps, in order (each later step needs the earlier ones):
  health    GET /healthz and /readyz (database and Redis) answer 200
  database  the configured database answers a query and has every migration applied
  signup    a fresh smoke account signs up through the portal's form (CSRF token included);
            its address is then marked confirmed in the database, because the link went to
            an address that cannot receive mail
  login     ...and signs in with the same password (303 and a session cookie)
  checkout  POST /billing/checkout (tier pro, monthly) redirects to a Stripe Checkout session
  worker    a tracked-price alert only the smoke account can receive: a `pricehawk worker`
            must evaluate it (the alert event appears) within WORKER_WAIT_S (30 s); the account has
            no notification channel, so nothing is sent anywhere
  delete    the account deletes itself through /account (which also deletes the Stripe
            customer the checkout created), and its row is gone

Safe against production: the account is smoke+<random>@pricehawk.invalid (RFC 2606; never
deliverable), the probe's retailer is paused and both it and the account are removed at the
end, whatever failed. Subscribers see nothing: no glitch, no outbox row, no public post. The
portal itself still sends its sign-up and deletion emails to the .invalid address (through
SendGrid when configured), where they bounce.
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

# The portal routes and form fields the smoke test walks (portal/blueprints/, docs/portal.md).
HEALTH_PATHS = ("/healthz", "/readyz")
SIGNUP_PATH = "/signup"
LOGIN_PATH = "/login"
BILLING_PATH = "/billing"
CHECKOUT_PATH = "/billing/checkout"
CHECKOUT_PLAN = {"tier": "pro", "cycle": "monthly"}
ACCOUNT_PATH = "/account"
DELETE_PATH = "/account/delete"
SESSION_COOKIES = ("ph_session", "__Host-ph_session")
WORKER_WAIT_S = 30.0
# The probe's price is under its target, so the alert fires on the worker's first pass.
PROBE_PRICE, PROBE_TARGET = 1, 10

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
    cleanup: str = ""

    @property
    def ok(self) -> bool:
        """Every step passed."""
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> Step | None:
        """The first step that failed, if any."""
        return next((s for s in self.steps if not s.ok), None)

    def summary(self) -> str:
        """One line per step; the failing step says what broke."""
        lines = [f"smoke test of {self.url}: {'PASSED' if self.ok else 'FAILED'}"]
        for s in self.steps:
            mark = "ok  " if s.ok else "FAIL"
            lines.append(f"  {mark} {s.name:<9} {s.detail} ({s.seconds:.2f} s)")
        if self.cleanup:
            lines.append(f"  cleanup: {self.cleanup}")
        return "\n".join(lines)


def csrf_token(html: str) -> str | None:
    """The CSRF token of the first form on a page, if it has one."""
    match = _CSRF.search(html)
    return (match.group(1) or match.group(2)) if match else None


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise SmokeError(message)


class _Smoke:
    def __init__(
        self, url: str, settings: Settings, client: httpx.Client, worker_wait_s: float
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.worker_wait_s = worker_wait_s
        self.settings = settings
        self.db_url = db.database_url(settings)
        self.client = client
        tag = uuid.uuid4().hex[:12]
        self.email = f"smoke+{tag}@pricehawk.invalid"
        self.password = f"Smoke-{uuid.uuid4().hex}"
        self.probe_slug = f"smoke-{tag}"
        self.user_id: int | None = None

    def _abs(self, path: str) -> str:
        return urljoin(self.url, path.lstrip("/"))

    def _get(self, path: str) -> httpx.Response:
        return self.client.get(self._abs(path))

    def _post_form(self, page: str, target: str, data: dict[str, str]) -> httpx.Response:
        """GET `page` for its form's CSRF token (bound to this browser's session), POST."""
        r = self._get(page)
        _expect(r.status_code == 200, f"GET {page} answered {r.status_code}")
        token = csrf_token(r.text)
        _expect(token is not None, f"GET {page} has no form with a CSRF token")
        return self.client.post(self._abs(target), data={**data, "csrf_token": str(token)})

    def _user_id(self) -> int | None:
        with db.connect(self.db_url) as conn:
            row = conn.execute(
                "SELECT id FROM users WHERE lower(email) = lower(%s)", (self.email,)
            ).fetchone()
        return int(row["id"]) if row else None

    # --- steps ----------------------------------------------------------------------------

    def health(self) -> str:
        for path in HEALTH_PATHS:
            r = self._get(path)
            _expect(r.status_code == 200, f"GET {path} answered {r.status_code}: {r.text[:200]}")
        return ", ".join(HEALTH_PATHS) + " answer 200"

    def database(self) -> str:
        with db.connect(self.db_url, connect_timeout=10) as conn:
            row = conn.execute("SELECT count(*) AS n FROM retailers").fetchone()
        pending = [m.id for m in db.migration_status(self.db_url) if not m.applied]
        _expect(not pending, f"migrations not applied: {', '.join(pending)}")
        return f"query ok ({row['n'] if row else 0} retailers), migrations at head"

    def signup(self) -> str:
        r = self._post_form(
            SIGNUP_PATH, SIGNUP_PATH, {"email": self.email, "password": self.password}
        )
        _expect(r.status_code == 200, f"POST {SIGNUP_PATH} answered {r.status_code}")
        self.user_id = self._user_id()
        _expect(self.user_id is not None, f"POST {SIGNUP_PATH} created no account {self.email}")
        with db.connect(self.db_url) as conn:
            conn.execute(
                "UPDATE users SET email_verified_at = now() WHERE id = %s", (self.user_id,)
            )
            conn.commit()
        return f"account {self.email} created (id {self.user_id})"

    def login(self) -> str:
        r = self._post_form(
            LOGIN_PATH, LOGIN_PATH, {"email": self.email, "password": self.password}
        )
        _expect(r.status_code == 303, f"POST {LOGIN_PATH} answered {r.status_code}"
                " (a good sign-in redirects with 303)")  # fmt: skip
        has_session = any(self.client.cookies.get(c) for c in SESSION_COOKIES)
        _expect(has_session, f"POST {LOGIN_PATH} set no session cookie")
        r = self._get(ACCOUNT_PATH)
        _expect(r.status_code == 200, f"GET {ACCOUNT_PATH} answered {r.status_code} signed in")
        return "signed in, session cookie set, /account answers"

    def checkout(self) -> str:
        r = self._post_form(BILLING_PATH, CHECKOUT_PATH, dict(CHECKOUT_PLAN))
        location = r.headers.get("location", "")
        _expect(r.status_code == 303 and location.startswith("http"),
                f"POST {CHECKOUT_PATH} answered {r.status_code} {location!r}"
                " (expected a redirect to a Checkout session)")  # fmt: skip
        return f"Checkout session at {location.split('?')[0]}"

    def worker(self) -> str:
        from pricehawk.notifications.service import OUTBOX_CHANNEL

        assert self.user_id is not None
        started = datetime.now(UTC)
        alert_id = self._plant_probe()
        with db.connect(self.db_url, autocommit=True) as conn:
            # Wakes a LISTENing worker now instead of at its next idle tick.
            conn.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
        deadline = time.monotonic() + self.worker_wait_s
        while True:
            with db.connect(self.db_url) as conn:
                event = conn.execute(
                    "SELECT created_at FROM alert_events WHERE tracked_alert_id = %s",
                    (alert_id,),
                ).fetchone()
                sent = conn.execute(
                    "SELECT count(*) AS n FROM notification_outbox WHERE user_id = %s",
                    (self.user_id,),
                ).fetchone()
            if event:
                # Nothing may leave for the smoke account: it has no channel.
                _expect(sent is not None and sent["n"] == 0, "the probe alert reached the outbox")
                seconds = (event["created_at"] - started).total_seconds()
                return f"a worker evaluated the probe alert in {seconds:.1f} s"
            _expect(time.monotonic() < deadline,
                    f"no `pricehawk worker` evaluated the probe alert in {self.worker_wait_s:.0f} s"
                    " (is one running against this database?)")  # fmt: skip
            time.sleep(0.2)

    def _plant_probe(self) -> int:
        """A paused retailer, one product under its target price, tracked by the smoke
        account with a target-price alert; returns the alert's id."""
        with db.connect(self.db_url) as conn:
            # A channel added by a later portal default must not turn the probe into a send.
            conn.execute(
                "UPDATE notification_channels SET enabled = false WHERE user_id = %s",
                (self.user_id,),
            )
            row = conn.execute(
                """
                WITH r AS (
                    INSERT INTO retailers (slug, name, paused)
                    VALUES (%(slug)s, 'Smoke test probe (removed after the test)', true)
                    RETURNING id),
                p AS (
                    INSERT INTO products (retailer_id, url, title, currency, last_price,
                                          last_observed_at)
                    SELECT id, %(url)s, 'Smoke test probe', 'USD', %(price)s, now() FROM r
                    RETURNING id),
                t AS (
                    INSERT INTO tracked_products (user_id, product_id)
                    SELECT %(user)s, id FROM p RETURNING id)
                INSERT INTO tracked_alerts (tracked_product_id, kind, threshold)
                SELECT id, 'target_price', %(target)s FROM t RETURNING id
                """,
                {
                    "slug": self.probe_slug,
                    "url": f"https://{self.probe_slug}.invalid/probe",
                    "price": PROBE_PRICE,
                    "target": PROBE_TARGET,
                    "user": self.user_id,
                },
            ).fetchone()
            conn.commit()
        assert row is not None
        return int(row["id"])

    def delete(self) -> str:
        r = self._post_form(
            ACCOUNT_PATH, DELETE_PATH, {"password": self.password, "confirm": "DELETE"}
        )
        _expect(r.status_code == 303, f"POST {DELETE_PATH} answered {r.status_code}")
        _expect(self._user_id() is None, f"POST {DELETE_PATH} left the account in place")
        return "account deleted through the portal (Stripe customer included)"

    def cleanup(self) -> str:
        """Remove the probe, and the account if a step failed before `delete`."""
        done = []
        with db.connect(self.db_url) as conn:
            # Cascades to the probe's product, tracking, alert and alert event.
            if conn.execute("DELETE FROM retailers WHERE slug = %s", (self.probe_slug,)).rowcount:
                done.append("probe removed")
            conn.commit()
        if self._user_id() is not None:
            with contextlib.suppress(Exception):  # the portal may be what is broken
                self.delete()
        if self._user_id() is not None:
            # Left for `maintenance_weekly`, like any deleted account.
            with db.connect(self.db_url) as conn:
                conn.execute(
                    "UPDATE users SET deleted_at = coalesce(deleted_at, now())"
                    " WHERE lower(email) = lower(%s)",
                    (self.email,),
                )
                conn.commit()
            done.append(f"{self.email} marked deleted (the portal could not delete it)")
        return "; ".join(done)


def run_smoke(
    url: str,
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    stop_on_failure: bool = True,
    worker_wait_s: float = WORKER_WAIT_S,
) -> SmokeReport:
    """Run every step against the portal at `url` and the configured database."""
    report = SmokeReport(url)
    own = client is None
    http = client or httpx.Client(timeout=15.0, follow_redirects=False)
    smoke = _Smoke(url, settings, http, worker_wait_s)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("health", smoke.health),
        ("database", smoke.database),
        ("signup", smoke.signup),
        ("login", smoke.login),
        ("checkout", smoke.checkout),
        ("worker", smoke.worker),
        ("delete", smoke.delete),
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
        try:
            report.cleanup = smoke.cleanup()
        except Exception as exc:  # noqa: BLE001
            report.cleanup = f"FAILED: {exc}"
        if own:
            http.close()
    return report
