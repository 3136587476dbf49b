"""/dashboard: the onboarding checklist, deals visible to my tier, my notification history."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from portal.web import current_user, login_required, services, settings
from pricehawk.deals import service as deals
from pricehawk.plans import next_tier_up, plan_for
from pricehawk.preferences import service as prefs
from pricehawk.tracking import service as tracking

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
@login_required
def index() -> ResponseReturnValue:
    """What a subscriber sees first after signing in."""
    user = current_user()
    assert user is not None  # login_required
    pool, now = services().pool, datetime.now(UTC)
    data = prefs.page_data(pool, user.id, user.tier)
    tracked = tracking.list_for_user(pool, user.id)
    steps = prefs.onboarding_steps(
        email_verified=user.verified,
        tier=user.tier,
        prefs_set=data.prefs is not None,
        channel_verified=any(c.active for c in data.channels),
        tracked=len(tracked),
    )
    return render_template(
        "dashboard.html",
        user=user,
        plan=plan_for(user.tier),
        upgrade=next_tier_up(user.tier),
        steps=steps,
        onboarding=not prefs.onboarding_complete(steps),
        deals=deals.deals_for_tier(pool, settings(), user.tier, now),
        history=deals.history(pool, user.id, limit=20),
        tracked=tracked,
        channels=[c for c in data.channels if c.active],
        now=now,
    )
