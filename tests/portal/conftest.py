"""Portal fixtures: an app on the test's own database and Redis prefix, aimed at a running
Stripe stand-in whose webhooks come back into the same app, and helpers for forms."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from pricehawk.accounts.emails import read_outbox
from pricehawk.settings import Settings, load_settings
from sandbox.stripe import StripeServer, StripeStandIn, sign_payload
from tests.conftest import create_database, drop_database

WEBHOOK_SECRET = "whsec_test_portal"
PASSWORD = "correct horse battery staple"


@pytest.fixture()
def stripe_server() -> Iterator[StripeServer]:
    server = StripeServer(StripeStandIn(webhook_secret=WEBHOOK_SECRET)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def portal_db(pg_server_url: str, template_db: str) -> Iterator[str]:
    """One migrated database for the portal tests, emptied before each test (cloning a
    database per test costs about two seconds here; emptying it costs milliseconds)."""
    name = f"ph_portal_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_server_url, name, template=template_db)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture()
def portal_settings(
    tmp_path: Path, portal_db: str, redis_server_url: str, stripe_server: StripeServer
) -> Settings:
    with psycopg.connect(portal_db, autocommit=True) as conn:
        # DELETE, not TRUNCATE: on this small data it is ~30 times faster
        for table in ("users", "login_throttle", "webhook_events", "audit_log",
                      "worker_heartbeats", "crawl_runs"):  # fmt: skip
            conn.execute(f"DELETE FROM {table}")
    return load_settings(
        {},
        home=tmp_path / "home",
        database_url=portal_db,
        redis_url=redis_server_url,
        redis_prefix=f"pricehawk-test-{uuid.uuid4().hex[:10]}:",
        secret_key="test-secret-key-not-for-production",
        public_base_url="http://portal.test",
        stripe_api_key="sk_test_sandbox",
        stripe_api_base=stripe_server.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture()
def app(portal_settings: Settings, stripe_server: StripeServer) -> Iterator[Flask]:
    application = create_app(portal_settings, TESTING=True)
    hook_client = application.test_client()

    def deliver(payload: bytes, headers: dict[str, str]) -> int:
        return hook_client.post("/webhooks/stripe", data=payload, headers=headers).status_code

    stripe_server.stand_in.deliver = deliver
    yield application
    application.extensions["pricehawk"].close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(html: str) -> str:
    """The CSRF token in a rendered form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def post_form(client: FlaskClient, page: str, url: str, data: dict[str, str], **kw: Any) -> Any:
    """GET `page` for a CSRF token, then POST the form to `url`."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, **kw)


def mails(app: Flask, to: str | None = None, kind: str | None = None) -> list[dict[str, str]]:
    """Account emails sent so far (after the mail thread has drained)."""
    app.extensions["pricehawk"].mailer.drain()
    settings = app.extensions["pricehawk"].settings
    return [
        m
        for m in read_outbox(settings)
        if (to is None or m["to"] == to) and (kind is None or m["kind"] == kind)
    ]


def link_path(mail: dict[str, str]) -> str:
    """The portal path of the link in an email."""
    found = re.search(r"http://portal\.test(/\S+)", mail["text"])
    assert found, mail["text"]
    return found.group(1)


def signup(client: FlaskClient, app: Flask, email: str, password: str = PASSWORD) -> None:
    response = post_form(client, "/signup", "/signup", {"email": email, "password": password})
    assert response.status_code == 200, response.get_data(as_text=True)


def verify(client: FlaskClient, app: Flask, email: str) -> None:
    path = link_path(mails(app, email, "verify_email")[-1])
    response = post_form(client, path, path, {})
    assert response.status_code == 303


def login(client: FlaskClient, email: str, password: str = PASSWORD, **kw: Any) -> Any:
    # a signed-in browser is sent away from /login; its account page has a token too
    page = "/login" if session_cookie(client) is None else "/account"
    return post_form(client, page, "/login", {"email": email, "password": password}, **kw)


def new_user(client: FlaskClient, app: Flask, email: str, verified: bool = True) -> None:
    """Sign up, confirm the address, and sign in."""
    signup(client, app, email)
    if verified:
        verify(client, app, email)
    response = login(client, email)
    assert response.status_code == 303, response.get_data(as_text=True)


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("ph_session")
    return cookie.value if cookie else None


def signed_post(
    client: FlaskClient, event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None
) -> Any:
    payload = json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers={
            "Stripe-Signature": sign_payload(payload, secret, at),
            "Content-Type": "application/json",
        },
    )


_seq = iter(range(1, 10**9))


def event(kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """A Stripe event envelope."""
    return {
        "id": f"evt_test_{next(_seq)}_{time.time_ns()}",
        "object": "event",
        "type": kind,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
        "livemode": False,
    }
