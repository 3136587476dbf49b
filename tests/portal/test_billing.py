"""/billing: Checkout and Customer Portal through the Stripe stand-in; tier by webhook only."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from pricehawk import db
from sandbox.stripe import StripeServer
from tests.portal.conftest import new_user, post_form


def _tier(app: Flask, email: str) -> str:
    with db.connect(app.extensions["pricehawk"].settings.database_url) as conn:
        row = conn.execute("SELECT tier FROM users WHERE email = %s", (email,)).fetchone()
    return str(row["tier"]) if row else ""


def test_billing_needs_a_signed_in_user(client: FlaskClient) -> None:
    assert client.get("/billing").status_code == 302


def test_billing_page_lists_paid_plans_and_cycles(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "plans@example.com")
    body = client.get("/billing").get_data(as_text=True)
    for name in ("Starter", "Pro", "Elite"):
        assert f"Choose {name}" in body
    assert 'value="annual"' in body and 'value="monthly"' in body


def test_checkout_refuses_unknown_plans_and_unverified_users(
    client: FlaskClient, app: Flask
) -> None:
    new_user(client, app, "bad@example.com")
    for data in ({"tier": "free", "cycle": "monthly"}, {"tier": "pro", "cycle": "weekly"}, {}):
        assert post_form(client, "/billing", "/billing/checkout", data).status_code == 400
    other = app.test_client()
    new_user(other, app, "unverified@example.com", verified=False)
    response = post_form(
        other, "/billing", "/billing/checkout", {"tier": "pro", "cycle": "monthly"}
    )
    assert response.status_code == 400 and "Confirm your email" in response.get_data(as_text=True)


def test_checkout_then_webhook_upgrades_but_the_success_url_does_not(
    client: FlaskClient, app: Flask, stripe_server: StripeServer
) -> None:
    new_user(client, app, "buyer@example.com")
    response = post_form(
        client, "/billing", "/billing/checkout", {"tier": "pro", "cycle": "annual"}
    )
    assert response.status_code == 303
    url = response.headers["Location"]
    assert url.startswith(stripe_server.url + "/checkout/cs_test_")
    stand_in = stripe_server.stand_in
    session = stand_in.sessions[url.rsplit("/", 1)[1]]
    assert session["client_reference_id"] and session["_price"] == "price_pro_annual"
    assert session["success_url"].startswith("http://portal.test/billing/success")
    # visiting the success URL by hand changes nothing
    assert client.get("/billing/success?session_id=" + session["id"]).status_code == 200
    assert _tier(app, "buyer@example.com") == "free"
    success = stand_in.pay(session["id"])
    assert urlsplit(success).path == "/billing/success"
    assert all(status == 200 for _, status in stand_in.deliveries)
    assert _tier(app, "buyer@example.com") == "pro"
    assert "Pro" in client.get("/billing").get_data(as_text=True)


def test_customer_portal_is_for_the_users_own_customer(
    client: FlaskClient, app: Flask, stripe_server: StripeServer
) -> None:
    new_user(client, app, "owner@example.com")
    assert post_form(client, "/billing", "/billing/portal", {}).status_code == 400  # no customer
    checkout = post_form(
        client, "/billing", "/billing/checkout", {"tier": "starter", "cycle": "monthly"}
    )
    stripe_server.stand_in.pay(checkout.headers["Location"].rsplit("/", 1)[1])
    response = post_form(client, "/billing", "/billing/portal", {})
    assert response.status_code == 303
    portal = stripe_server.stand_in.portal_sessions[response.headers["Location"].rsplit("/", 1)[1]]
    [customer] = stripe_server.stand_in.customers
    assert portal["customer"] == customer and portal["return_url"] == "http://portal.test/billing"
    # a second subscription attempt goes to the portal instead of a new checkout
    again = post_form(
        client, "/billing", "/billing/checkout", {"tier": "elite", "cycle": "monthly"}
    )
    assert "/portal/" in again.headers["Location"]
    # cancelling in the portal reaches us by webhook and drops the tier
    [sub] = stripe_server.stand_in.subscriptions
    stripe_server.stand_in.cancel(sub)
    assert _tier(app, "owner@example.com") == "free"


def test_billing_unavailable_is_a_clear_503(
    client: FlaskClient, app: Flask, stripe_server: StripeServer
) -> None:
    new_user(client, app, "down@example.com")
    stripe_server.stop()
    response = post_form(
        client, "/billing", "/billing/checkout", {"tier": "pro", "cycle": "monthly"}
    )
    assert response.status_code == 503 and "unavailable" in response.get_data(as_text=True)
