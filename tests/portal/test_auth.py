"""Sign-up, sign-in, sessions, reset, verification, throttling, enumeration, redirects, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pricehawk import db
from pricehawk.accounts import passwords
from tests.portal.conftest import (
    PASSWORD,
    csrf_of,
    link_path,
    login,
    mails,
    new_user,
    post_form,
    session_cookie,
    signup,
    verify,
)


def _db(app: Flask) -> str:
    return str(app.extensions["pricehawk"].settings.database_url)


def _sql(app: Flask, sql: str, *params: object) -> list[dict[str, object]]:
    with db.connect(_db(app)) as conn:
        cur = conn.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
    return rows


# --- pages and bad input -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/signup", "/login", "/forgot-password"])
def test_public_pages_render_without_javascript(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script" not in body and "portal.css" in body


@pytest.mark.parametrize(
    ("email", "password", "field", "words"),
    [
        ("", PASSWORD, "email", "Enter your email"),
        ("not-an-email", PASSWORD, "email", "like name@example.com"),
        ("a@example.com", "short", "password", "at least 8"),
        ("a@example.com", "x" * 129, "password", "at most 128"),
        ("a@example.com", "password123", "password", "most common"),
        ("anna.lee@example.com", "anna.lee@example.com", "password", "email address"),
    ],
)
def test_signup_refuses_bad_input_next_to_the_field(
    client: FlaskClient, email: str, password: str, field: str, words: str
) -> None:
    response = post_form(client, "/signup", "/signup", {"email": email, "password": password})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="e-{field}"' in body and words in body


def test_long_passwords_are_accepted_and_never_truncated(client: FlaskClient, app: Flask) -> None:
    long_password = "a long passphrase " * 7  # 126 characters
    signup(client, app, "long@example.com", long_password)
    verify(client, app, "long@example.com")
    assert login(client, "long@example.com", long_password[:-1]).status_code == 401
    assert login(client, "long@example.com", long_password).status_code == 303


# --- sign-up, verification -----------------------------------------------------------------


def test_signup_sends_a_verification_link_that_confirms_once(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "new@example.com")
    [mail] = mails(app, "new@example.com")
    assert mail["kind"] == "verify_email"
    path = link_path(mail)
    assert client.get(path).status_code == 200  # GET never uses the link up
    assert post_form(client, path, path, {}).status_code == 303
    row = _sql(app, "SELECT email_verified_at FROM users WHERE email = %s", "new@example.com")
    assert row[0]["email_verified_at"] is not None
    assert post_form(client, path, path, {}).status_code == 400  # single use
    assert mails(app, "new@example.com", "welcome")


def test_signup_stores_an_argon2id_hash_at_owasp_parameters(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "hash@example.com")
    [row] = _sql(app, "SELECT password_hash FROM users WHERE email = %s", "hash@example.com")
    assert str(row["password_hash"]).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in str(row["password_hash"])


def test_login_rehashes_a_hash_made_with_old_parameters(client: FlaskClient, app: Flask) -> None:
    signup(client, app, "old@example.com")
    weak = passwords.hash_password(PASSWORD, passwords.HashParams(1, 8192, 1))
    _sql(app, "UPDATE users SET password_hash = %s WHERE email = %s", weak, "old@example.com")
    assert login(client, "old@example.com").status_code == 303
    [row] = _sql(app, "SELECT password_hash FROM users WHERE email = %s", "old@example.com")
    assert str(row["password_hash"]).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_signup_answers_the_same_for_known_and_unknown_emails(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "taken@example.com")
    page = client.get("/signup")
    token = csrf_of(page.get_data(as_text=True))
    known = client.post(
        "/signup", data={"csrf_token": token, "email": "taken@example.com", "password": PASSWORD}
    )
    unknown = client.post(
        "/signup", data={"csrf_token": token, "email": "free@example.com", "password": PASSWORD}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    # each address gets exactly one email: the owner a notice, the new one a link
    assert [m["kind"] for m in mails(app, "taken@example.com")] == [
        "verify_email",
        "already_registered",
    ]
    assert [m["kind"] for m in mails(app, "free@example.com")] == ["verify_email"]


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "known@example.com")
    token = csrf_of(client.get("/forgot-password").get_data(as_text=True))
    known = client.post(
        "/forgot-password", data={"csrf_token": token, "email": "known@example.com"}
    )
    unknown = client.post(
        "/forgot-password", data={"csrf_token": token, "email": "nobody@example.com"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert mails(app, "known@example.com", "reset_password")
    assert not mails(app, "nobody@example.com")


def test_reset_and_signup_mail_cannot_flood_an_inbox(client: FlaskClient, app: Flask) -> None:
    from portal.blueprints.auth import EMAILS_PER_ADDRESS_HOUR

    signup(client, app, "flooded@example.com")
    token = csrf_of(client.get("/forgot-password").get_data(as_text=True))
    pages = [
        client.post("/forgot-password", data={"csrf_token": token, "email": "flooded@example.com"})
        for _ in range(EMAILS_PER_ADDRESS_HOUR + 2)
    ]
    # every answer is the same page; only the first few actually send
    assert {p.status_code for p in pages} == {200}
    assert len({p.get_data() for p in pages}) == 1
    assert len(mails(app, "flooded@example.com", "reset_password")) == EMAILS_PER_ADDRESS_HOUR
    # another address from the same browser is not affected
    client.post("/forgot-password", data={"csrf_token": token, "email": "other@example.com"})
    signup(client, app, "other@example.com")
    assert mails(app, "other@example.com", "verify_email")


def test_email_sending_is_off_the_request_path(app: Flask) -> None:
    # parity of timing: responses never wait for an email; the mail thread sends it
    from portal.web import Mailer

    assert isinstance(app.extensions["pricehawk"].mailer, Mailer)
    assert app.extensions["pricehawk"].mailer._pool._max_workers == 1


# --- sign-in, sessions -----------------------------------------------------------------


def test_login_rotates_the_session_id(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "rot@example.com")
    first = session_cookie(client)
    assert login(client, "rot@example.com").status_code == 303
    second = session_cookie(client)
    assert first and second and first != second
    # the old id is dead on the server, not just replaced in this browser
    other = app.test_client()
    other.set_cookie("ph_session", first)
    assert other.get("/account").status_code == 302
    rows = _sql(app, "SELECT count(*) AS n FROM user_sessions")
    assert rows[0]["n"] == 1


def test_wrong_password_and_unknown_email_answer_alike(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "who@example.com")
    client.delete_cookie("ph_session")
    wrong = login(client, "who@example.com", "wrong password here")
    unknown = login(client, "nobody@example.com", "wrong password here")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).replace("who@example.com", "X") == unknown.get_data(
        as_text=True
    ).replace("nobody@example.com", "X")


def test_logout_kills_the_session_on_the_server(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "out@example.com")
    stolen = session_cookie(client)
    assert client.get("/logout").status_code == 200
    response = post_form(client, "/logout", "/logout", {})
    assert response.status_code == 303
    assert session_cookie(client) is None
    replay = app.test_client()
    replay.set_cookie("ph_session", stolen or "")
    assert replay.get("/account").status_code == 302


def test_idle_session_times_out(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "idle@example.com")
    assert client.get("/account").status_code == 200
    _sql(app, "UPDATE user_sessions SET last_seen_at = now() - interval '31 minutes'")
    assert client.get("/account").status_code == 302
    assert _sql(app, "SELECT count(*) AS n FROM user_sessions")[0]["n"] == 0


def test_session_ends_after_twelve_hours_even_when_active(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "abs@example.com")
    _sql(app, "UPDATE user_sessions SET created_at = now() - interval '13 hours'")
    assert client.get("/account").status_code == 302


def test_login_required_pages_redirect_with_next(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/account")


# --- open redirects --------------------------------------------------------------------------


NEXT_CASES = [
    ("/billing", "/billing"),
    ("/account?tab=1", "/account?tab=1"),
    ("//evil.example/", "/dashboard"),
    ("https://evil.example/", "/dashboard"),
    ("/\\evil.example", "/dashboard"),
    ("javascript:alert(1)", "/dashboard"),
    ("http:/evil.example", "/dashboard"),
    ("", "/dashboard"),
]


def test_next_redirects_only_to_our_own_paths(client: FlaskClient, app: Flask) -> None:
    signup(client, app, "next@example.com")
    for next_value, expected in NEXT_CASES:
        browser = app.test_client()
        response = post_form(
            browser,
            "/login",
            "/login",
            {"email": "next@example.com", "password": PASSWORD, "next": next_value},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == expected, next_value


@pytest.mark.parametrize(("value", "expected"), [*NEXT_CASES, ("/ok\x01", "/dashboard")])
def test_safe_next(value: str, expected: str) -> None:
    from portal.web import safe_next

    assert safe_next(value) == expected


# --- throttling ------------------------------------------------------------------------------


def test_account_lock_after_five_failures_even_with_the_right_password(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "victim@example.com")
    attacker = app.test_client()
    for _ in range(5):
        assert login(attacker, "victim@example.com", "guess guess guess").status_code == 401
    locked = login(attacker, "victim@example.com")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many attempts" in locked.get_data(as_text=True)


def test_unknown_accounts_lock_the_same_way(client: FlaskClient, app: Flask) -> None:
    for _ in range(5):
        assert login(client, "ghost@example.com", "guess guess guess").status_code == 401
    assert login(client, "ghost@example.com", "guess guess guess").status_code == 429


def test_an_attacker_cannot_lock_out_the_real_user(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "owner@example.com")  # this browser now holds a device cookie
    assert client.get_cookie("ph_device") is not None
    attacker = app.test_client()
    for _ in range(6):
        login(
            attacker,
            "owner@example.com",
            "guess guess guess",
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
    assert (
        login(
            attacker, "owner@example.com", environ_base={"REMOTE_ADDR": "203.0.113.9"}
        ).status_code
        == 429
    )
    # the owner's browser signs in despite the account lock
    assert login(client, "owner@example.com").status_code == 303


def test_ip_lock_after_many_failures_across_accounts(client: FlaskClient, app: Flask) -> None:
    ip = {"REMOTE_ADDR": "198.51.100.7"}
    for i in range(30):
        login(client, f"user{i}@example.com", "guess guess guess", environ_base=ip)
    assert (
        login(client, "fresh@example.com", "guess guess guess", environ_base=ip).status_code == 429
    )
    other = app.test_client()
    assert (
        login(
            other,
            "fresh@example.com",
            "guess guess guess",
            environ_base={"REMOTE_ADDR": "198.51.100.8"},
        ).status_code
        == 401
    )


# --- password reset ----------------------------------------------------------------------


def test_reset_link_is_built_from_the_public_url_not_the_host_header(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "host@example.com")
    token = csrf_of(client.get("/forgot-password").get_data(as_text=True))
    nonce = client.get_cookie("ph_csrf")
    assert nonce is not None
    forged_host = app.test_client()
    forged_host.set_cookie("ph_csrf", nonce.value, domain="evil.example")
    response = forged_host.post(
        "/forgot-password",
        base_url="http://evil.example",
        data={"csrf_token": token, "email": "host@example.com"},
        headers={"X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    [mail] = mails(app, "host@example.com", "reset_password")
    assert "http://portal.test/reset-password/" in mail["text"] and "evil" not in mail["text"]


def test_reset_is_single_use_and_ends_every_session(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "reset@example.com")
    elsewhere = app.test_client()
    login(elsewhere, "reset@example.com")
    anon = app.test_client()
    post_form(anon, "/forgot-password", "/forgot-password", {"email": "reset@example.com"})
    path = link_path(mails(app, "reset@example.com", "reset_password")[-1])
    assert anon.get(path).status_code == 200
    bad = post_form(anon, path, path, {"password": "short"})
    assert bad.status_code == 400 and "at least 8" in bad.get_data(as_text=True)
    response = post_form(anon, path, path, {"password": "a brand new passphrase"})
    assert response.status_code == 303 and "notice=password_reset" in response.headers["Location"]
    assert client.get("/account").status_code == 302
    assert elsewhere.get("/account").status_code == 302
    assert anon.get(path).status_code == 400  # used up
    assert (
        post_form(anon, "/login", path, {"password": "another new passphrase"}).status_code == 400
    )
    assert login(anon, "reset@example.com", "a brand new passphrase").status_code == 303
    assert mails(app, "reset@example.com", "password_changed")


def test_reset_link_expires(client: FlaskClient, app: Flask) -> None:
    signup(client, app, "exp@example.com")
    post_form(client, "/forgot-password", "/forgot-password", {"email": "exp@example.com"})
    path = link_path(mails(app, "exp@example.com", "reset_password")[-1])
    _sql(app, "UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    assert client.get(path).status_code == 400


def test_reset_tokens_are_random_and_stored_only_as_digests(
    client: FlaskClient, app: Flask
) -> None:
    signup(client, app, "dig@example.com")
    for _ in range(2):
        post_form(client, "/forgot-password", "/forgot-password", {"email": "dig@example.com"})
    paths = [link_path(m) for m in mails(app, "dig@example.com", "reset_password")]
    tokens = [p.rsplit("/", 1)[1] for p in paths]
    assert len(set(tokens)) == 2 and all(len(t) >= 43 for t in tokens)
    stored = {r["token_hash"] for r in _sql(app, "SELECT token_hash FROM account_tokens")}
    assert not stored & set(tokens)
    # a newer link replaces the older one
    assert client.get(paths[0]).status_code == 400 and client.get(paths[1]).status_code == 200


def test_invalid_tokens_are_refused(client: FlaskClient) -> None:
    assert client.get("/reset-password/nope").status_code == 400
    assert post_form(client, "/verify-email/nope", "/verify-email/nope", {}).status_code == 400


# --- CSRF ------------------------------------------------------------------------------------

POST_ROUTES = [
    "/signup",
    "/login",
    "/logout",
    "/forgot-password",
    "/reset-password/x",
    "/verify-email/x",
    "/verify-email/resend",
    "/account/email",
    "/account/password",
    "/account/sessions/end",
    "/account/sessions/end-others",
    "/account/delete",
    "/billing/checkout",
    "/billing/portal",
]


def test_every_form_requires_a_csrf_token(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "csrf@example.com")
    for path in POST_ROUTES:
        missing = client.post(path, data={"email": "csrf@example.com", "password": PASSWORD})
        assert missing.status_code == 400, path
        assert "expired or did not come from this site" in missing.get_data(as_text=True)
        forged = client.post(path, data={"csrf_token": "forged", "email": "x@example.com"})
        assert forged.status_code == 400, path
    assert client.get("/account").status_code == 200  # nothing above signed us out


def test_csrf_token_is_bound_to_the_session(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "bind@example.com")
    token = csrf_of(client.get("/account").get_data(as_text=True))
    login(client, "bind@example.com")  # a new session: the old token must stop working
    response = client.post("/account/sessions/end-others", data={"csrf_token": token})
    assert response.status_code == 400


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient, app: Flask) -> None:
    signup(client, app, "cookie@example.com")
    response = login(client, "cookie@example.com")
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("ph_session=")]
    assert cookies and "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    assert "Secure" not in cookies[0]  # plain HTTP here; see test_security for TLS


def test_idle_clock_is_kept_without_a_write_per_request(client: FlaskClient, app: Flask) -> None:
    new_user(client, app, "touch@example.com")
    _sql(app, "UPDATE user_sessions SET last_seen_at = now() - interval '5 minutes'")
    client.get("/account")
    [row] = _sql(app, "SELECT now() - last_seen_at AS age FROM user_sessions")
    assert row["age"] < timedelta(minutes=1)
