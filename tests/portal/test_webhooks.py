"""POST /webhooks/stripe, signed with Stripe's real scheme."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from pricehawk import db
from pricehawk.billing import service as billing
from sandbox.stripe import StripeStandIn, sign_payload
from tests.portal.conftest import WEBHOOK_SECRET, event, mails, new_user, signed_post


def _sql(app: Flask, sql: str, *params: object) -> list[dict[str, Any]]:
    with db.connect(app.extensions["pricehawk"].settings.database_url) as conn:
        cur = conn.execute(sql, params)
        rows = list(cur.fetchall()) if cur.description else []
        conn.commit()
    return rows


def _user(client: FlaskClient, app: Flask, email: str = "sub@example.com") -> int:
    new_user(client, app, email)
    return int(_sql(app, "SELECT id FROM users WHERE email = %s", email)[0]["id"])


def _subscription(user_id: int, status: str = "active", price: str = "price_pro_monthly",
                  shape: str = "2025", sub_id: str = "sub_1") -> dict[str, Any]:  # fmt: skip
    item: dict[str, Any] = {"id": "si_1", "price": {"id": price}}
    sub: dict[str, Any] = {
        "id": sub_id,
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "metadata": {"user_id": str(user_id)},
        "items": {"object": "list", "data": [item]},
    }
    end = int(time.time()) + 30 * 86400
    if shape == "legacy":
        sub["current_period_end"] = end
    else:
        item["current_period_end"] = end
    return sub


def _tier(app: Flask, user_id: int) -> str:
    return str(_sql(app, "SELECT tier FROM users WHERE id = %s", user_id)[0]["tier"])


def test_bad_signature_is_refused(client: FlaskClient, app: Flask) -> None:
    response = signed_post(
        client, event("customer.subscription.updated", {"id": "sub_x"}), secret="whsec_wrong"
    )
    assert response.status_code == 400
    assert _sql(app, "SELECT * FROM webhook_events") == []


def test_missing_signature_is_refused(client: FlaskClient) -> None:
    response = client.post("/webhooks/stripe", data=json.dumps(event("invoice.paid", {})))
    assert response.status_code == 400


def test_stale_timestamp_is_refused(client: FlaskClient, app: Flask) -> None:
    stale = int(time.time()) - 301  # the library's tolerance is 300 s
    response = signed_post(client, event("invoice.paid", {"id": "in_1"}), at=stale)
    assert response.status_code == 400
    assert _sql(app, "SELECT * FROM webhook_events") == []


def test_tampered_body_is_refused(client: FlaskClient) -> None:
    payload = json.dumps(event("invoice.paid", {"id": "in_1"})).encode()
    header = sign_payload(payload, WEBHOOK_SECRET)
    response = client.post("/webhooks/stripe", data=payload.replace(b"in_1", b"in_2"),
                           headers={"Stripe-Signature": header})  # fmt: skip
    assert response.status_code == 400


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"id": "evt_1"}', b"\xff\xfe"])
def test_malformed_body_with_a_valid_signature_is_refused(client: FlaskClient, body: bytes) -> None:
    response = client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": sign_payload(body, WEBHOOK_SECRET)},
    )
    assert response.status_code == 400


def test_webhooks_need_no_csrf_token_but_need_a_secret(portal_settings: Any) -> None:
    unconfigured = create_app(dataclasses.replace(portal_settings, stripe_webhook_secret=""))
    response = signed_post(unconfigured.test_client(), event("invoice.paid", {}))
    assert response.status_code == 503


def test_subscription_events_set_the_tier(client: FlaskClient, app: Flask) -> None:
    user_id = _user(client, app)
    assert (
        signed_post(
            client, event("customer.subscription.created", _subscription(user_id))
        ).status_code
        == 200
    )
    assert _tier(app, user_id) == "pro"
    [row] = _sql(app, "SELECT status, billing_cycle, current_period_end FROM subscriptions")
    assert row["status"] == "active" and row["current_period_end"] is not None
    elite = _subscription(user_id, price="price_elite_annual")
    signed_post(client, event("customer.subscription.updated", elite, int(time.time()) + 1))
    assert _tier(app, user_id) == "elite"
    signed_post(client, event("customer.subscription.deleted", elite, int(time.time()) + 2))
    assert _tier(app, user_id) == "free"


def test_replayed_event_is_applied_once(client: FlaskClient, app: Flask) -> None:
    user_id = _user(client, app)
    signed_post(client, event("customer.subscription.created", _subscription(user_id)))
    failed = event("invoice.payment_failed", {"id": "in_9", "object": "invoice",
                   "parent": {"subscription_details": {"subscription": "sub_1"}}})  # fmt: skip
    first = signed_post(client, failed)
    second = signed_post(client, failed)  # Stripe redelivers the very same event
    assert first.status_code == second.status_code == 200
    assert first.get_json()["duplicate"] is False and second.get_json()["duplicate"] is True
    assert len(mails(app, "sub@example.com", "payment_failed")) == 1
    assert _sql(app, "SELECT count(*) AS n FROM webhook_events")[0]["n"] == 2


def test_out_of_order_events_keep_the_latest_state(client: FlaskClient, app: Flask) -> None:
    user_id = _user(client, app)
    now = int(time.time())
    newer = event("customer.subscription.deleted", _subscription(user_id, status="canceled"), now)
    older = event("customer.subscription.updated", _subscription(user_id), now - 60)
    assert signed_post(client, newer).status_code == 200
    response = signed_post(client, older)
    assert response.status_code == 200 and "stale" in response.get_json()["action"]
    assert _tier(app, user_id) == "free"
    assert _sql(app, "SELECT status FROM subscriptions")[0]["status"] == "canceled"


@pytest.mark.parametrize("shape", ["legacy", "2025"])
def test_both_invoice_shapes_drive_grace_then_recovery(
    client: FlaskClient, app: Flask, shape: str
) -> None:
    user_id = _user(client, app)
    stand_in = StripeStandIn(invoice_shape=shape)
    sub = _subscription(user_id, shape=shape)
    now = int(time.time())
    signed_post(client, event("customer.subscription.created", sub, now - 10))
    sub_state = {**sub, "current_period_start": now}
    sub_state["items"]["data"][0].update(
        current_period_start=now, current_period_end=now + 86400 * 30
    )
    failed = stand_in.invoice(sub_state, paid=False)
    assert ("subscription" in failed) == (shape == "legacy")
    assert signed_post(client, event("invoice.payment_failed", failed, now - 5)).status_code == 200
    [row] = _sql(app, "SELECT status, grace_until FROM subscriptions")
    assert row["status"] == "past_due" and row["grace_until"] is not None
    assert _tier(app, user_id) == "pro"  # still within the grace period
    assert mails(app, "sub@example.com", "payment_failed")
    paid = stand_in.invoice(sub_state, paid=True)
    assert signed_post(client, event("invoice.paid", paid, now)).status_code == 200
    [row] = _sql(app, "SELECT status, grace_until FROM subscriptions")
    assert row["status"] == "active" and row["grace_until"] is None


def test_grace_period_ends_in_a_downgrade(client: FlaskClient, app: Flask) -> None:
    user_id = _user(client, app)
    now = int(time.time())
    signed_post(client, event("customer.subscription.created", _subscription(user_id), now - 10))
    failed = {"id": "in_1", "object": "invoice", "subscription": "sub_1"}
    signed_post(client, event("invoice.payment_failed", failed, now))
    pool = app.extensions["pricehawk"].pool
    assert billing.expire_grace(pool) == [] and _tier(app, user_id) == "pro"
    later = datetime.now(UTC) + timedelta(days=8)
    assert billing.expire_grace(pool, later) == [user_id]
    assert _tier(app, user_id) == "free"
    # a later failure does not extend the grace period
    [row] = _sql(app, "SELECT grace_until FROM subscriptions")
    signed_post(client, event("invoice.payment_failed", {**failed, "id": "in_2"}, now + 5))
    assert (
        _sql(app, "SELECT grace_until FROM subscriptions")[0]["grace_until"] == row["grace_until"]
    )


def test_checkout_completed_links_the_customer(client: FlaskClient, app: Flask) -> None:
    user_id = _user(client, app)
    session = {
        "id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "client_reference_id": str(user_id), "customer": "cus_77", "subscription": "sub_77",
        "payment_status": "paid", "metadata": {"tier": "starter", "cycle": "annual"},
    }  # fmt: skip
    assert signed_post(client, event("checkout.session.completed", session)).status_code == 200
    assert _tier(app, user_id) == "starter"
    assert (
        _sql(app, "SELECT stripe_customer_id FROM billing_customers")[0]["stripe_customer_id"]
        == "cus_77"
    )


def test_unknown_customers_and_event_types_are_recorded_and_ignored(
    client: FlaskClient, app: Flask
) -> None:
    orphan = _subscription(999999)
    assert (
        signed_post(client, event("customer.subscription.updated", orphan))
        .get_json()["action"]
        .startswith("ignored")
    )
    assert signed_post(client, event("charge.refunded", {"id": "ch_1"})).status_code == 200
    assert (
        _sql(app, "SELECT count(*) AS n FROM webhook_events WHERE processed_at IS NOT NULL")[0]["n"]
        == 2
    )


def test_database_failure_answers_5xx_so_stripe_retries(portal_settings: Any) -> None:
    broken = dataclasses.replace(
        portal_settings, database_url="postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"
    )
    application = create_app(broken)
    pool = application.extensions["pricehawk"].pool
    pool.timeout = 0.5  # fail fast here; the portal's own wait is 5 s
    try:
        response = signed_post(application.test_client(), event("invoice.paid", {"id": "in_1"}))
    finally:
        pool.close(timeout=0.1)
    assert response.status_code >= 500
