"""/developer: personal API tokens (Elite) and where the API is documented."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.web import current_user, login_required, services
from pricehawk import api_tokens
from pricehawk.db import transaction
from pricehawk.plans import PLANS, plan_for

bp = Blueprint("developer", __name__, url_prefix="/developer")
MAX_TOKENS = 10


def _page(
    new_token: str | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    user = current_user()
    assert user is not None  # login_required
    with transaction(services().pool) as conn:
        tokens = api_tokens.list_tokens(conn, user.id)
    return (
        render_template(
            "developer.html",
            plan=plan_for(user.tier),
            api_plan=next(p for p in PLANS if p.has_api),
            tokens=tokens,
            new_token=new_token,
            error=error,
        ),
        status,
    )


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    """Tokens and API documentation links."""
    return _page()


@bp.post("/tokens")
@login_required
def create() -> ResponseReturnValue:
    """Create a token; its value is shown this once only."""
    user = current_user()
    assert user is not None
    if not plan_for(user.tier).has_api:
        return _page(error="API tokens come with the Elite plan.", status=403)
    name = request.form.get("name", "").strip()
    if not name or len(name) > 80:
        return _page(error="Name the token (up to 80 characters), e.g. 'deal bot'.", status=400)
    with transaction(services().pool) as conn:
        if len(api_tokens.list_tokens(conn, user.id)) >= MAX_TOKENS:
            return _page(
                error=f"You can have up to {MAX_TOKENS} tokens; revoke one first.", status=400
            )
        token = api_tokens.create_token(conn, user.id, name)
    return _page(new_token=token, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke a token at once."""
    user = current_user()
    assert user is not None
    with transaction(services().pool) as conn:
        done = token_id <= 2**63 - 1 and api_tokens.revoke_token(conn, user.id, token_id)
    if not done:
        return _page(error="No such token.", status=404)
    return redirect(url_for("developer.index", notice="token_revoked"), code=303)
