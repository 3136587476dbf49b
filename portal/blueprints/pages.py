"""Public pages: the home page with plans."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from pricehawk.plans import PLANS

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Home: what PriceHawk does and what each plan costs."""
    return render_template("index.html", plans=PLANS)
