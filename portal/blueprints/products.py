"""/products: track a pasted product URL, see its price history, set alerts, pause or remove,
and a reseller markup with profit per product. Views call pricehawk.tracking only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.web import current_user, login_required, services, settings
from pricehawk.charts import price_chart_svg
from pricehawk.plans import next_tier_up, plan_for
from pricehawk.preferences import service as prefs
from pricehawk.tracking import service as tracking
from pricehawk.tracking.models import ALERT_KINDS, TrackError, TrackLimitReached

bp = Blueprint("products", __name__, url_prefix="/products")

ALERT_LABELS = {
    "target_price": "Price falls to or below",
    "pct_drop": "Price drops by at least (%)",
    "new_low": "Lowest price ever",
    "back_in_stock": "Back in stock",
}


def _field(name: str) -> str:
    values = request.form.getlist(name)
    return values[0] if len(values) == 1 else ""


def _list_page(
    errors: dict[str, str] | None = None,
    status: int = 200,
    url: str = "",
    limit_hit: bool = False,
) -> ResponseReturnValue:
    user = current_user()
    assert user is not None  # login_required
    pool = services().pool
    items = tracking.list_for_user(pool, user.id)
    markup = prefs.page_data(pool, user.id, user.tier).markup_pct
    return (
        render_template(
            "products.html",
            items=items,
            plan=plan_for(user.tier),
            upgrade=next_tier_up(user.tier),
            markup=markup,
            errors=errors or {},
            url=url,
            limit_hit=limit_hit or len(items) >= plan_for(user.tier).tracked_products,
            now=datetime.now(UTC),
        ),
        status,
    )


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    """My tracked products as cards, and the box to paste a new one."""
    return _list_page()


@bp.post("")
@login_required
def add() -> ResponseReturnValue:
    """Paste a URL: recognise the retailer, read the price now, make a card."""
    user = current_user()
    assert user is not None
    raw = _field("url")
    if not raw.strip():
        return _list_page({"url": "Paste the link of a product page."}, 400)
    try:
        card = tracking.track_url(services().pool, settings(), user.id, user.tier, raw)
    except TrackLimitReached as exc:
        return _list_page({"url": str(exc)}, 400, raw, limit_hit=True)
    except TrackError as exc:
        return _list_page({"url": str(exc)}, 400, raw)
    return redirect(url_for("products.detail", tracked_id=card.id, notice="tracked"), code=303)


@bp.post("/markup")
@login_required
def markup() -> ResponseReturnValue:
    """Save the reseller markup that profit figures use."""
    user = current_user()
    assert user is not None
    error = prefs.save_markup(services().pool, user.id, _field("markup_pct"))
    if error:
        return _list_page({"markup": error}, 400)
    return redirect(url_for("products.index", notice="markup_saved", _anchor="markup"), code=303)


def _detail_page(
    tracked_id: int, errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    pool, now = services().pool, datetime.now(UTC)
    item = tracking.get_for_user(pool, user.id, tracked_id)
    points = tracking.history_for_user(pool, user.id, tracked_id, user.tier, now)
    if item is None or points is None:
        abort(404)
    markup_pct = prefs.page_data(pool, user.id, user.tier).markup_pct
    chart = price_chart_svg(
        [(p.observed_at, p.price) for p in points],
        currency=item.currency or "",
        title=f"Price history of {item.title or item.url}",
    )
    alerts = {a.kind: a for a in item.alerts}
    return (
        render_template(
            "product.html",
            item=item,
            chart=chart,
            points=points,
            alerts=alerts,
            kinds=ALERT_KINDS,
            labels=ALERT_LABELS,
            markup=markup_pct,
            profit=item.profit(markup_pct),
            sell_at=(item.price * (1 + markup_pct / 100)).quantize(Decimal("0.01"))
            if item.price is not None
            else None,
            plan=plan_for(user.tier),
            errors=errors or {},
            now=now,
        ),
        status,
    )


@bp.get("/<int:tracked_id>")
@login_required
def detail(tracked_id: int) -> ResponseReturnValue:
    """One tracked product: chart, alerts, profit, pause and remove."""
    return _detail_page(tracked_id)


@bp.post("/<int:tracked_id>/alerts")
@login_required
def set_alert(tracked_id: int) -> ResponseReturnValue:
    """Create or change one alert (target price, % drop, new low, back in stock)."""
    user = current_user()
    assert user is not None
    kind = _field("kind")
    try:
        found = tracking.set_alert(services().pool, user.id, tracked_id, kind, _field("threshold"))
    except TrackError as exc:
        key = f"alert.{kind}" if kind in ALERT_KINDS else "alert"
        return _detail_page(tracked_id, {key: str(exc)}, 400)
    if not found:
        abort(404)
    return redirect(url_for("products.detail", tracked_id=tracked_id, notice="alert_saved"), 303)


@bp.post("/<int:tracked_id>/alerts/<kind>/delete")
@login_required
def delete_alert(tracked_id: int, kind: str) -> ResponseReturnValue:
    """Remove one alert."""
    user = current_user()
    assert user is not None
    if not tracking.remove_alert(services().pool, user.id, tracked_id, kind):
        abort(404)
    return redirect(url_for("products.detail", tracked_id=tracked_id, notice="alert_removed"), 303)


@bp.post("/<int:tracked_id>/pause")
@login_required
def pause(tracked_id: int) -> ResponseReturnValue:
    """Pause (paused=1) or resume (paused=0) a product's alerts."""
    user = current_user()
    assert user is not None
    paused = _field("paused") == "1"
    if not tracking.pause(services().pool, user.id, tracked_id, paused):
        abort(404)
    notice = "product_paused" if paused else "product_resumed"
    return redirect(url_for("products.detail", tracked_id=tracked_id, notice=notice), 303)


@bp.post("/<int:tracked_id>/remove")
@login_required
def remove(tracked_id: int) -> ResponseReturnValue:
    """Stop tracking a product."""
    user = current_user()
    assert user is not None
    if not tracking.untrack(services().pool, user.id, tracked_id):
        abort(404)
    return redirect(url_for("products.index", notice="product_removed"), 303)
