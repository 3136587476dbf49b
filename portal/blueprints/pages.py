"""Public pages: the landing page (with recent glitches, Free delay applied) and pricing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from portal.web import services, settings
from pricehawk.deals import service as deals
from pricehawk.deals.models import Deal
from pricehawk.plans import PLANS

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)


def _examples(now: datetime) -> list[Deal]:
    try:
        return deals.public_examples(services().pool, settings(), now)
    except Exception:  # the landing page must render even when the database is down
        log.exception("could not load example deals for the landing page")
        return []


@bp.get("/")
def index() -> ResponseReturnValue:
    """Landing: what PriceHawk catches, recent glitches as examples, plans, a call to action."""
    now = datetime.now(UTC)
    free_delay_h = settings().tier_delays.get("free", 0) // 3600
    return render_template(
        "index.html", plans=PLANS, examples=_examples(now), now=now, free_delay_h=free_delay_h
    )


@bp.get("/pricing")
def pricing() -> ResponseReturnValue:
    """Every plan, monthly or annual: delay, channels, tracked products, history, API."""
    cycle = "annual" if request.args.get("cycle") == "annual" else "monthly"
    return render_template("pricing.html", plans=PLANS, cycle=cycle)
