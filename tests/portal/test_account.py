"""/account: email and password changes, sessions, export, deletion."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from pricehawk import db
from sandbox.stripe import StripeServer
from tests.portal.conftest import (
    PASSWORD,
    link_path,
    login,
    mails,
    new_user,
    post_form,
    session_cookie,
)


def _rows(app: Flask, sql: str, *params: object) -> list[dict[str, object]]:
    with db.connect(app.extensions["pricehawk"].settings.database_url) as conn:
        return list(conn.execute(sql, params).fetchall())


def test_account_page_shows_the_user_and_their_sessions(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "me@example.com")
    body = client.get("/account").get_data(as_text=True)
    assert "me@example.com" in body and "this browser" in body and "confirmed" in body
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_change_password_needs_the_current_one_and_rotates_sessions(
    client: FlaskClient, app: Flask
) -> None:
    new_user(client, app, "pw@example.com")
    other = app.test_client()
    login(other, "pw@example.com")
    wrong = post_form(
        client, "/account", "/account/password",
        {"current_password": "not it at all", "new_password": "a fresh passphrase"},
    )  # fmt: skip
    assert wrong.status_code == 400 and 'id="e-current_password"' in wrong.get_data(as_text=True)
    weak = post_form(
        client, "/account", "/account/password",
        {"current_password": PASSWORD, "new_password": "12345678"},
    )  # fmt: skip
    assert weak.status_code == 400 and "most common" in weak.get_data(as_text=True)
    before = session_cookie(client)
    ok = post_form(
        client, "/account", "/account/password",
        {"current_password": PASSWORD, "new_password": "a fresh passphrase"},
    )  # fmt: skip
    assert ok.status_code == 303
    assert session_cookie(client) not in (None, before)
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302
    assert login(app.test_client(), "pw@example.com", "a fresh passphrase").status_code == 303


def test_change_email_goes_through_a_link_to_the_new_address(
    client: FlaskClient, app: Flask
) -> None:
    new_user(client, app, "old@example.com")
    [user] = _rows(app, "SELECT id FROM users WHERE email = 'old@example.com'")
    _rows(
        app,
        "INSERT INTO notification_channels (user_id, kind, address, verified_at)"
        " VALUES (%s, 'email', 'old@example.com', now()) RETURNING id",
        user["id"],
    )
    bad = post_form(
        client, "/account", "/account/email", {"new_email": "nope", "password": PASSWORD}
    )
    assert bad.status_code == 400 and 'id="e-new_email"' in bad.get_data(as_text=True)
    response = post_form(
        client, "/account", "/account/email", {"new_email": "new@example.com", "password": PASSWORD}
    )
    assert response.status_code == 303
    path = link_path(mails(app, "new@example.com", "change_email")[-1])
    assert post_form(client, path, path, {}).status_code == 303
    assert "new@example.com" in client.get("/account").get_data(as_text=True)
    assert mails(app, "old@example.com", "email_changed")
    # email alerts follow the new address
    [channel] = _rows(app, "SELECT address FROM notification_channels WHERE kind = 'email'")
    assert channel["address"] == "new@example.com"


def test_sessions_can_be_ended_one_by_one_or_all_but_this_one(
    client: FlaskClient, app: Flask
) -> None:
    new_user(client, app, "many@example.com")
    a, b = app.test_client(), app.test_client()
    login(a, "many@example.com")
    login(b, "many@example.com")
    sessions = _rows(app, "SELECT id FROM user_sessions ORDER BY created_at")
    assert len(sessions) == 3
    response = post_form(
        client, "/account", "/account/sessions/end", {"session_id": sessions[1]["id"]}
    )
    assert response.status_code == 303
    assert a.get("/account").status_code == 302 and b.get("/account").status_code == 200
    missing = post_form(client, "/account", "/account/sessions/end", {"session_id": "nope"})
    assert missing.status_code == 400
    post_form(client, "/account", "/account/sessions/end-others", {})
    assert b.get("/account").status_code == 302 and client.get("/account").status_code == 200


def test_a_user_cannot_end_someone_elses_session(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "a@example.com")
    other = app.test_client()
    new_user(other, app, "b@example.com")
    [theirs] = _rows(
        app, "SELECT s.id FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE u.email = %s",
        "b@example.com",
    )  # fmt: skip
    response = post_form(client, "/account", "/account/sessions/end", {"session_id": theirs["id"]})
    assert response.status_code == 400
    assert other.get("/account").status_code == 200


def test_export_is_json_with_my_data_and_no_secrets(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "export@example.com")
    response = client.get("/account/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data())
    assert data["account"]["email"] == "export@example.com"
    assert data["sessions"] and "subscriptions" in data
    text = response.get_data(as_text=True)
    assert "argon2" not in text and "password" not in text


def test_delete_account_cancels_billing_and_removes_personal_data(
    client: FlaskClient, app: Flask, stripe_server: StripeServer
) -> None:
    new_user(client, app, "bye@example.com")
    # subscribe through the stand-in so there is something to cancel
    checkout = post_form(
        client, "/billing", "/billing/checkout", {"tier": "pro", "cycle": "monthly"}
    )
    session_id = checkout.headers["Location"].rsplit("/", 1)[1]
    stripe_server.stand_in.pay(session_id)
    assert _rows(app, "SELECT tier FROM users")[0]["tier"] == "pro"
    assert (
        post_form(client, "/account", "/account/delete", {"password": PASSWORD}).status_code == 400
    )
    wrong = post_form(
        client, "/account", "/account/delete", {"password": "nope nope nope", "confirm": "DELETE"}
    )
    assert wrong.status_code == 400 and _rows(app, "SELECT id FROM users")
    response = post_form(
        client, "/account", "/account/delete", {"password": PASSWORD, "confirm": "DELETE"}
    )
    assert response.status_code == 303
    assert _rows(app, "SELECT id FROM users WHERE lower(email) = 'bye@example.com'") == []
    assert _rows(app, "SELECT * FROM user_sessions") == []
    assert not stripe_server.stand_in.customers  # the customer (and its data) is gone at Stripe
    assert [s["status"] for s in stripe_server.stand_in.subscriptions.values()] == ["canceled"]
    assert client.get("/account").status_code == 302
    payloads = _rows(app, "SELECT payload::text AS p FROM webhook_events")
    assert payloads and all("bye@example.com" not in str(r["p"]) for r in payloads)


def test_delete_keeps_the_account_when_stripe_cannot_cancel(
    client: FlaskClient, app: Flask, stripe_server: StripeServer
) -> None:
    new_user(client, app, "keep@example.com")
    checkout = post_form(
        client, "/billing", "/billing/checkout", {"tier": "starter", "cycle": "annual"}
    )
    assert checkout.status_code == 303
    stripe_server.stop()  # Stripe unreachable
    response = post_form(
        client, "/account", "/account/delete", {"password": PASSWORD, "confirm": "DELETE"}
    )
    assert response.status_code == 400
    assert "could not cancel" in response.get_data(as_text=True)
    assert _rows(app, "SELECT id FROM users")
