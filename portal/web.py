"""The portal's request plumbing, shared by every blueprint (and by Portal part 2):

- `services()`: the pool, Redis, mailer and Stripe gateway of this app (created lazily);
- `current_user()` / `login_required`: who is signed in (server-side sessions in Postgres);
- CSRF: a signed double-submit token bound to the session, checked on every unsafe method;
- security headers on every response, error pages included; request metrics;
- `safe_next()`: `next` redirects only to our own paths.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry, Counter, Histogram
from werkzeug.exceptions import HTTPException

from pricehawk.accounts import service as accounts
from pricehawk.accounts import tokens
from pricehawk.accounts.emails import send_account_email
from pricehawk.accounts.models import Email, Session, User
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_COOKIE = "ph_csrf"
DEVICE_COOKIE = "ph_device"


class Mailer:
    """Sends account emails on a background thread, so a response never waits for (or
    reveals by its timing) an email; `drain()` waits for what was queued (tests, shutdown)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-mail")
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()

    def send(self, emails: Iterable[Email]) -> None:
        """Queue emails for sending."""
        for email in emails:
            future = self._pool.submit(self._send_one, email)
            with self._lock:
                self._pending = [f for f in self._pending if not f.done()] + [future]

    def _send_one(self, email: Email) -> None:
        try:
            send_account_email(self.settings, email)
        except Exception:
            log.exception("could not send the %s email", email.kind)

    def drain(self, timeout: float = 30) -> None:
        """Wait until every queued email has been handled."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)


@dataclass
class Services:
    """What one portal app holds: built on first use, so a bare app (for /healthz) needs
    no database."""

    settings: Settings
    secret: str
    mailer: Mailer
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    _pool: Any = None
    _redis: Any = None
    _gateway: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                from pricehawk.db import database_url, make_pool

                self._pool = make_pool(database_url(self.settings), min_size=1, max_size=8)
                # a request waits at most this long for a connection, then fails (5xx)
                self._pool.timeout = 5.0
            return self._pool

    @property
    def redis(self) -> Any:
        with self._lock:
            if self._redis is None:
                from pricehawk.redis_conn import connect_redis

                self._redis = connect_redis(self.settings)
            return self._redis

    @property
    def gateway(self) -> Any:
        with self._lock:
            if self._gateway is None:
                from pricehawk.billing.gateway import StripeGateway

                self._gateway = StripeGateway(self.settings)
            return self._gateway

    def close(self) -> None:
        """Release the pool and the mail thread."""
        self.mailer.drain()
        if self._pool is not None:
            self._pool.close(timeout=2)


def services() -> Services:
    """This app's services."""
    return cast(Services, current_app.extensions["pricehawk"])


def settings() -> Settings:
    """This app's settings."""
    return services().settings


def init_app(app: Flask, settings_: Settings) -> None:
    """Attach services, session loading, CSRF, headers, error pages and metrics to an app."""
    secret = settings_.secret_key
    if not secret:
        # Without a key nothing signed survives a restart; fine for a local try-out only.
        log.warning("PRICEHAWK_SECRET_KEY is not set: using a random key for this process")
        secret = secrets.token_urlsafe(32)
    registry = CollectorRegistry()
    app.extensions["pricehawk"] = Services(
        settings=settings_,
        secret=secret,
        mailer=Mailer(settings_),
        registry=registry,
        requests=Counter(
            "pricehawk_portal_http_requests",
            "Portal HTTP requests by route and status.",
            ["route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "pricehawk_portal_http_request_duration_seconds",
            "Portal request latency by route.",
            ["route"],
            registry=registry,
        ),
    )
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is no limit
        app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.before_request(_start)
    app.before_request(_load_session)
    app.before_request(_check_csrf)
    app.after_request(_finish)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user, notice=notice)


# --- sessions ----------------------------------------------------------------------------------


def is_tls() -> bool:
    """Whether the browser talks to us over TLS (directly, or to our TLS-terminating proxy,
    which PRICEHAWK_PUBLIC_BASE_URL then names with https)."""
    return request.is_secure or settings().public_base_url.startswith("https://")


def session_cookie_name() -> str:
    """`__Host-` over TLS: the browser then refuses the cookie from any other origin or path."""
    return "__Host-ph_session" if is_tls() else "ph_session"


def _load_session() -> None:
    g.user = None
    g.session = None
    token = request.cookies.get(session_cookie_name())
    if not token:
        return
    found = accounts.load_session(services().pool, token)
    if found is None:
        g.clear_session_cookie = True
        return
    g.user, g.session = found


def current_user() -> User | None:
    """The signed-in user of this request, or None."""
    return cast(User | None, g.get("user"))


def current_session() -> Session | None:
    """The session of this request, or None."""
    return cast(Session | None, g.get("session"))


def login_required(view: F) -> F:
    """Send anonymous visitors to the sign-in page, coming back here afterwards."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_user() is None:
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.login", next=target))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def start_session(response: Response, token: str) -> None:
    """Put a new session's cookie on a response (the CSRF token rotates with it)."""
    response.set_cookie(
        session_cookie_name(),
        token,
        httponly=True,
        secure=is_tls(),
        samesite="Lax",
        path="/",
        max_age=int(accounts.ABSOLUTE_TIMEOUT.total_seconds()),
    )
    _set_csrf_cookie(response, secrets.token_urlsafe(16))
    g.session_replaced = True


def end_session_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        session_cookie_name(), path="/", secure=is_tls(), httponly=True, samesite="Lax"
    )


def set_device_cookie(response: Response, value: str) -> None:
    """Remember that this browser signed in (it is then spared an account's lock-out)."""
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        httponly=True,
        secure=is_tls(),
        samesite="Strict",
        path="/",
        max_age=365 * 86400,
    )


def client_ip() -> str:
    """The client's address as the WSGI server saw it (behind a proxy, run waitress with
    its trusted_proxy options so this is the real client)."""
    return request.remote_addr or "unknown"


def send_emails(emails: Iterable[Email]) -> None:
    """Queue account emails (sent after the response, never inside a transaction)."""
    services().mailer.send(emails)


# --- CSRF (OWASP: signed double-submit cookie, bound to the session) --------------------------


def _csrf_nonce() -> str:
    nonce = g.get("csrf_nonce") or request.cookies.get(CSRF_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = secrets.token_urlsafe(16)
        g.new_csrf_nonce = nonce
    g.csrf_nonce = nonce
    return str(nonce)


def _session_binding() -> str:
    session = current_session()
    return session.id if session else ""


def csrf_token() -> str:
    """The token forms carry in their `csrf_token` field."""
    return tokens.sign(services().secret, "csrf", _csrf_nonce(), _session_binding())


def _check_csrf() -> ResponseReturnValue | None:
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return None  # a 404 or 405 answers first; it runs no view
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "csrf_exempt", False):
        return None
    nonce = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get("csrf_token", "")
    expected = tokens.sign(services().secret, "csrf", nonce, _session_binding())
    if not nonce or not sent or not secrets.compare_digest(sent, expected):
        return error_page(
            400,
            "This form has expired or did not come from this site. Reload the page and try again.",
        )
    return None


def csrf_exempt(view: F) -> F:
    """Mark a view that authenticates its requests otherwise (webhook signatures)."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _set_csrf_cookie(response: Response, nonce: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, nonce, httponly=True, secure=is_tls(), samesite="Lax", path="/"
    )


# Messages shown after a redirect, chosen by a fixed code in the query string (no client-side
# session needed, and nothing a link can inject).
NOTICES = {
    "signed_out": "You are signed out.",
    "password_reset": "Your password was changed and every session was signed out. Sign in again.",
    "password_changed": "Your password was changed; your other sessions were signed out.",
    "email_confirmed": "Your email address is confirmed.",
    "verification_sent": "We sent a new confirmation link to your address.",
    "email_change_sent": "Check your new address's inbox for a confirmation link.",
    "session_ended": "That session was signed out.",
    "others_ended": "Every other session was signed out.",
    "account_deleted": "Your account and its data were deleted.",
    "checkout_cancelled": "Checkout was cancelled; nothing was charged.",
    "login_needed": "Sign in to continue.",
}


def notice() -> str | None:
    """The message for this request's `notice` code, if any."""
    return NOTICES.get(request.args.get("notice", ""))


# --- redirects -------------------------------------------------------------------------------


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """`value` when it is a path on this site, else `default` (no open redirects)."""
    if not value or len(value) > 2000:
        return default
    if any(ord(c) < 32 or c == "\\" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    return value


# --- responses, headers, errors, metrics -------------------------------------------------------


def content_security_policy(settings_: Settings) -> str:
    """The CSP: our own scripts, styles and images only, no framing; forms may also post to
    (and be redirected on to) Stripe's hosted pages."""
    form_targets = ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"]
    if settings_.stripe_api_base:
        base = urlsplit(settings_.stripe_api_base)
        form_targets.append(f"{base.scheme}://{base.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action " + " ".join(form_targets),
        ]
    )


def _start() -> None:
    g.started = time.perf_counter()
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        abort(413)  # before anything reads the body


def _finish(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(settings())
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    # tokens travel in paths (/reset-password/<token>): never leak them in a Referer
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if is_tls():
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if current_user() is not None or request.path.startswith(("/account", "/reset-password")):
        headers["Cache-Control"] = "no-store"
    if g.get("clear_session_cookie") and not g.get("session_replaced"):
        end_session_cookie(response)
    if g.get("new_csrf_nonce") and not g.get("session_replaced"):
        _set_csrf_cookie(response, g.new_csrf_nonce)
    _observe(response.status_code)
    return response


def _observe(status: int) -> None:
    svc = services()
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    svc.requests.labels(route=route, status=str(status)).inc()
    started = g.get("started")
    if started is not None:
        svc.latency.labels(route=route).observe(time.perf_counter() - started)


def error_page(status: int, message: str) -> Response:
    """A plain error page with this status."""
    response = current_app.make_response(
        (render_template("error.html", status=status, message=message), status)
    )
    return response


_MESSAGES = {
    400: "The request could not be understood.",
    403: "You may not do that.",
    404: "There is no page at this address.",
    405: "This page does not accept that kind of request.",
    413: "That request is too large.",
    429: "Too many requests; wait a little and try again.",
}


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if request.path.startswith("/webhooks/") or request.accept_mimetypes.best == "application/json":
        return {"error": _MESSAGES.get(status, exc.name)}, status
    return error_page(status, _MESSAGES.get(status, exc.name))


def _server_error(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error on %s %s", request.method, request.path)
    if request.path.startswith("/webhooks/"):
        return {"error": "internal error"}, 500
    return error_page(500, "Something went wrong on our side. Try again in a moment.")
