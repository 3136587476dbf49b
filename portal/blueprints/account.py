"""/account: email, password, sessions, data export and account deletion."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.web import (
    client_ip,
    current_session,
    current_user,
    end_session_cookie,
    login_required,
    send_emails,
    services,
    settings,
    start_session,
)
from pricehawk.accounts import service as accounts

bp = Blueprint("account", __name__, url_prefix="/account")


def _field(name: str) -> str:
    values = request.form.getlist(name)
    return values[0] if len(values) == 1 else ""


def _page(
    errors: dict[str, dict[str, str]] | None = None, status: int = 200
) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    session = current_session()
    return (
        render_template(
            "account.html",
            user=user,
            sessions=accounts.sessions(services().pool, user),
            current_session_id=session.id if session else None,
            errors=errors or {},
        ),
        status,
    )


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    """The account page."""
    return _page()


@bp.post("/email")
@login_required
def change_email() -> ResponseReturnValue:
    """Start an email change: a link goes to the new address."""
    user = current_user()
    assert user is not None
    result = accounts.start_email_change(
        services().pool, settings(), user, _field("password"), _field("new_email")
    )
    if not result.ok:
        return _page({"email": result.errors}, 400)
    send_emails(result.emails)
    return redirect(url_for("account.index", notice="email_change_sent"), code=303)


@bp.post("/password")
@login_required
def change_password() -> ResponseReturnValue:
    """Change the password; other sessions end and this one gets a new id."""
    user, session = current_user(), current_session()
    assert user is not None and session is not None
    result = accounts.change_password(
        services().pool,
        settings(),
        user,
        session.id,
        _field("current_password"),
        _field("new_password"),
        client_ip(),
        request.user_agent.string,
    )
    if not result.ok:
        return _page({"password": result.errors}, 400)
    send_emails(result.emails)
    response = redirect(url_for("account.index", notice="password_changed"), code=303)
    assert result.session_token is not None
    start_session(response, result.session_token)
    return response


@bp.post("/sessions/end")
@login_required
def end_session() -> ResponseReturnValue:
    """Sign out one of the user's own sessions."""
    user, session = current_user(), current_session()
    assert user is not None and session is not None
    target = _field("session_id")
    if not accounts.end_session(services().pool, user, target):
        return _page({"sessions": {"form": "That session is already signed out."}}, 400)
    if session.id == target:
        response = redirect(url_for("auth.login", notice="signed_out"), code=303)
        end_session_cookie(response)
        return response
    return redirect(url_for("account.index", notice="session_ended"), code=303)


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions() -> ResponseReturnValue:
    """Sign out every other session of the user."""
    user, session = current_user(), current_session()
    assert user is not None and session is not None
    accounts.end_other_sessions(services().pool, user, keep=session.id)
    return redirect(url_for("account.index", notice="others_ended"), code=303)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


@bp.get("/export")
@login_required
def export() -> ResponseReturnValue:
    """Everything we hold about the user, as a JSON download."""
    user = current_user()
    assert user is not None
    data = accounts.export_data(services().pool, user)
    body = json.dumps(data, default=_json_default, indent=2, sort_keys=True)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="pricehawk-my-data.json"'
    return response


@bp.post("/delete")
@login_required
def delete() -> ResponseReturnValue:
    """Delete the account (password required): the subscription is cancelled first."""
    user = current_user()
    assert user is not None
    if _field("confirm") != "DELETE":
        return _page({"delete": {"confirm": "Type DELETE to confirm."}}, 400)
    svc = services()
    result = accounts.delete_account(
        svc.pool,
        settings(),
        user,
        _field("password"),
        lambda user_id: svc.gateway.cancel_for_deletion(svc.pool, user_id),
    )
    if not result.ok:
        return _page({"delete": result.errors}, 400)
    send_emails(result.emails)
    response = redirect(url_for("pages.index", notice="account_deleted"), code=303)
    end_session_cookie(response)
    return response
