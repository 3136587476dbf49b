"""Sign-up, sign-in, sign-out, email verification and password reset."""

from __future__ import annotations

import hashlib

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from portal.web import (
    DEVICE_COOKIE,
    client_ip,
    current_user,
    end_session_cookie,
    login_required,
    safe_next,
    send_emails,
    services,
    session_cookie_name,
    set_device_cookie,
    settings,
    start_session,
)
from pricehawk.accounts import service as accounts
from pricehawk.api_tokens import rate_limit

bp = Blueprint("auth", __name__)

# Emails a stranger can make us send (sign-up, reset): at most this many per hour per address
# and per client IP, so the forms cannot be used to flood someone's inbox.
EMAILS_PER_ADDRESS_HOUR = 3
EMAILS_PER_IP_HOUR = 20


def _may_email(kind: str, email: str) -> bool:
    """Whether this form may send mail now; a refusal looks like success to the visitor
    (the same page), so it reveals nothing about the address."""
    redis, prefix = services().redis, settings().redis_prefix
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    checks = ((f"{kind}-ip", client_ip(), EMAILS_PER_IP_HOUR),
              (f"{kind}-address", address, EMAILS_PER_ADDRESS_HOUR))  # fmt: skip
    try:
        return all(
            rate_limit(redis, prefix, key, limit, bucket=bucket, window_s=3600) is None
            for bucket, key, limit in checks
        )
    except RedisError:
        return True  # Redis down: mail still goes out; the per-account throttles still hold


def _field(name: str) -> str:
    # one value per field; a repeated or missing field reads as empty
    values = request.form.getlist(name)
    return values[0] if len(values) == 1 else ""


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    """Create an account; known and unknown addresses get the same answer."""
    if current_user() is not None:
        return redirect(url_for("account.index"))
    if request.method == "GET":
        return render_template("signup.html", errors={}, email="")
    email = _field("email")
    result = accounts.signup(services().pool, settings(), email, _field("password"))
    if not result.ok:
        return render_template("signup.html", errors=result.errors, email=email), 400
    if _may_email("signup", email):
        send_emails(result.emails)
    return render_template("check_email.html", purpose="signup")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in; a new session id every time (no fixation)."""
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_path)
        return render_template("login.html", errors={}, email="", next=next_path)
    email = _field("email")
    result = accounts.login(
        services().pool,
        settings(),
        email,
        _field("password"),
        client_ip(),
        request.user_agent.string,
        request.cookies.get(DEVICE_COOKIE),
    )
    if not result.ok:
        status = 429 if result.retry_after else 401
        response = make_response(
            render_template("login.html", errors=result.errors, email=email, next=next_path),
            status,
        )
        if result.retry_after:
            response.headers["Retry-After"] = str(result.retry_after)
        return response
    # the previous session (if any) ends: one browser, one session
    accounts.logout(services().pool, request.cookies.get(session_cookie_name()))
    response = redirect(next_path, code=303)
    assert result.session_token is not None
    start_session(response, result.session_token)
    if result.device_cookie:
        set_device_cookie(response, result.device_cookie)
    return response


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    """GET asks for confirmation; POST ends the session on the server and in the browser."""
    if request.method == "GET":
        if current_user() is None:
            return redirect(url_for("auth.login"))
        return render_template("logout.html")
    accounts.logout(services().pool, request.cookies.get(session_cookie_name()))
    response = redirect(url_for("auth.login", notice="signed_out"), code=303)
    end_session_cookie(response)
    return response


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """Ask for a reset link; the answer never says whether the address has an account."""
    if request.method == "GET":
        return render_template("forgot.html", errors={}, email="")
    email = _field("email")
    result = accounts.request_reset(services().pool, settings(), email)
    if not result.ok:
        return render_template("forgot.html", errors=result.errors, email=email), 400
    if _may_email("reset", email):
        send_emails(result.emails)
    return render_template("check_email.html", purpose="reset")


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """Choose a new password through an emailed link (single use, one hour)."""
    pool = services().pool
    if request.method == "GET":
        if not accounts.reset_token_valid(pool, token):
            return render_template("link_invalid.html", purpose="reset"), 400
        return render_template("reset.html", errors={}, token=token)
    result = accounts.reset_password(pool, settings(), token, _field("password"))
    if "token" in result.errors:
        return render_template("link_invalid.html", purpose="reset"), 400
    if not result.ok:
        return render_template("reset.html", errors=result.errors, token=token), 400
    send_emails(result.emails)
    response = redirect(url_for("auth.login", notice="password_reset"), code=303)
    end_session_cookie(response)
    return response


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str) -> ResponseReturnValue:
    """Confirm an address. GET only shows a button, so a mail scanner fetching the link
    does not use it up; POST confirms."""
    if request.method == "GET":
        return render_template("verify.html", token=token)
    result = accounts.confirm_email(services().pool, settings(), token)
    if not result.ok:
        return render_template("link_invalid.html", purpose="verify"), 400
    send_emails(result.emails)
    target = "account.index" if current_user() else "auth.login"
    return redirect(url_for(target, notice="email_confirmed"), code=303)


@bp.post("/verify-email/resend")
@login_required
def resend_verification() -> ResponseReturnValue:
    """Send a fresh verification link to the signed-in user."""
    user = current_user()
    assert user is not None
    result = accounts.resend_verification(services().pool, settings(), user)
    send_emails(result.emails)
    return redirect(url_for("account.index", notice="verification_sent"), code=303)
