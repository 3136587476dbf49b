"""/billing: choose a plan (Stripe Checkout) or manage it (Stripe Customer Portal).

The tier changes only when Stripe's webhook says so, never through the success URL.
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request
from flask.typing import ResponseReturnValue

from portal.web import current_user, login_required, services
from pricehawk.billing import service as billing
from pricehawk.billing.events import CYCLES, TIER_ORDER
from pricehawk.billing.gateway import BillingUnavailableError
from pricehawk.plans import PLANS

log = logging.getLogger(__name__)
bp = Blueprint("billing", __name__, url_prefix="/billing")
PAID_STATUSES = ("active", "trialing", "past_due")


def _page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    svc = services()
    summary = billing.billing_summary(svc.pool, user.id)
    return (
        render_template(
            "billing.html",
            user=user,
            plans=[p for p in PLANS if p.tier != "free"],
            subscription=summary["subscription"],
            has_customer=summary["has_customer"],
            configured=svc.gateway.configured,
            error=error,
        ),
        status,
    )


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    """Plans, the current subscription, and the way to manage it."""
    return _page()


@bp.post("/checkout")
@login_required
def checkout() -> ResponseReturnValue:
    """Start a Stripe Checkout Session for the chosen tier and cycle."""
    user = current_user()
    assert user is not None
    tier, cycle = request.form.get("tier", ""), request.form.get("cycle", "")
    if tier not in TIER_ORDER[1:] or cycle not in CYCLES:
        return _page("Choose one of the plans below.", 400)
    if not user.verified:
        return _page("Confirm your email address before subscribing.", 400)
    svc = services()
    summary = billing.billing_summary(svc.pool, user.id)
    current = summary["subscription"]
    try:
        if current and current["status"] in PAID_STATUSES:
            # one subscription per account: plan changes happen in the Customer Portal
            url = svc.gateway.portal_url(svc.pool, user)
        else:
            url = svc.gateway.checkout_url(svc.pool, user, tier, cycle)
    except (BillingUnavailableError, ValueError) as exc:
        log.warning("checkout for user %s failed: %s", user.id, exc)
        return _page("Billing is unavailable right now; try again in a few minutes.", 503)
    if not url:
        return _page("Billing is unavailable right now; try again in a few minutes.", 503)
    return redirect(url, code=303)


@bp.post("/portal")
@login_required
def portal() -> ResponseReturnValue:
    """Open the Stripe Customer Portal for the user's own customer."""
    user = current_user()
    assert user is not None
    svc = services()
    try:
        url = svc.gateway.portal_url(svc.pool, user)
    except BillingUnavailableError as exc:
        log.warning("portal for user %s failed: %s", user.id, exc)
        return _page("Billing is unavailable right now; try again in a few minutes.", 503)
    if url is None:
        return _page("You have no subscription to manage yet.", 400)
    return redirect(url, code=303)


@bp.get("/success")
@login_required
def success() -> ResponseReturnValue:
    """Back from Checkout: a thank-you page (the plan changes when Stripe's webhook lands)."""
    return render_template("billing_success.html", user=current_user())
