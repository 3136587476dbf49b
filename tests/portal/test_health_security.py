"""Health, readiness, metrics, security headers and cookie flags."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from pricehawk import db
from tests.portal.conftest import PASSWORD, login, post_form, signup


def test_healthz_is_alive_without_dependencies() -> None:
    from pricehawk.settings import load_settings

    assert create_app(load_settings({})).test_client().get("/healthz").status_code == 200


def test_readyz_checks_database_and_redis(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"]["ok"] is True
    assert response.get_json()["checks"]["redis"]["ok"] is True


def test_readyz_is_503_when_redis_is_down(portal_settings: Any) -> None:
    app = create_app(dataclasses.replace(portal_settings, redis_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/readyz")
    app.extensions["pricehawk"].close()
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False


def test_deep_health_needs_a_worker_heartbeat_and_a_recent_crawl(
    client: FlaskClient, app: Flask
) -> None:
    response = client.get("/healthz/deep")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["worker"]["ok"] is False and checks["crawl"]["ok"] is False
    with db.connect(app.extensions["pricehawk"].settings.database_url) as conn:
        conn.execute("INSERT INTO worker_heartbeats (worker, role) VALUES ('w1', 'worker')")
        conn.execute(
            """INSERT INTO crawl_runs (spider, cycle_key, status, finished_at)
               VALUES ('shop', 'c1', 'finished', now())"""
        )
        conn.commit()
    assert client.get("/healthz/deep").status_code == 200
    with db.connect(app.extensions["pricehawk"].settings.database_url) as conn:
        conn.execute("UPDATE worker_heartbeats SET beat_at = now() - interval '10 minutes'")
        conn.commit()
    assert client.get("/healthz/deep").get_json()["checks"]["worker"]["ok"] is False


def test_metrics_count_requests_by_route_and_status(client: FlaskClient) -> None:
    client.get("/login")
    client.get("/no-such-page")
    client.get("/reset-password/abc")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'pricehawk_portal_http_requests_total{route="/login",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert 'route="/reset-password/<token>",status="400"' in text  # templates, not raw paths
    assert "pricehawk_portal_http_request_duration_seconds_bucket" in text


def _boom_app(portal_settings: Any) -> Flask:
    app = create_app(portal_settings)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/", 200), ("get", "/nope", 404), ("put", "/login", 405), ("get", "/boom", 500),
     ("post", "/signup", 400)],
)  # fmt: skip
def test_security_headers_on_every_response(
    portal_settings: Any, method: str, path: str, status: int
) -> None:
    app = _boom_app(portal_settings)
    response = getattr(app.test_client(), method)(path)
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    if status >= 400:
        assert "boom" not in response.get_data(as_text=True)  # no internals on error pages


def test_over_tls_hsts_and_secure_host_prefixed_cookies(portal_settings: Any) -> None:
    app = create_app(dataclasses.replace(portal_settings, public_base_url="https://portal.test"))
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    csrf_cookie = next(h for h in page.headers.getlist("Set-Cookie") if h.startswith("ph_csrf="))
    assert "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie and "SameSite=Lax" in csrf_cookie
    signup(client, app, "tls@example.com")
    response = login(client, "tls@example.com", PASSWORD)
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("__Host-ph_session="))
    assert "Secure" in session and "HttpOnly" in session and "Path=/" in session
    assert "Domain" not in session
    app.extensions["pricehawk"].close()


def test_forms_post_only_to_us_or_stripe(portal_settings: Any) -> None:
    csp = create_app(portal_settings).test_client().get("/").headers["Content-Security-Policy"]
    assert "form-action 'self' https://checkout.stripe.com https://billing.stripe.com" in csp


def test_oversized_bodies_are_refused(client: FlaskClient) -> None:
    response = post_form(client, "/signup", "/signup", {"email": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
