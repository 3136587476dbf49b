"""JSON API under /api/v1/: tracked products (list, add, get, remove, price history) and deals.

Personal API tokens (Elite) as `Authorization: Bearer ph_...`; session cookies are ignored, so
no request here can be forged from another site (hence no CSRF tokens). Per-tier rate limits
answer 429 with Retry-After. /api/v1/openapi.json describes exactly these routes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue

from portal.blueprints.api_spec import MAX_ID, openapi_document
from portal.web import csrf_exempt, services, settings
from pricehawk import api_tokens
from pricehawk.db import transaction
from pricehawk.deals import service as deals
from pricehawk.deals.models import Deal
from pricehawk.plans import next_tier_up, plan_for
from pricehawk.tracking import service as tracking
from pricehawk.tracking.models import PricePointRow, TrackedProduct, TrackError, TrackLimitReached

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, message: str, **extra: Any) -> Response:
    """A JSON error body with this status."""
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


@bp.before_request
def _authenticate() -> ResponseReturnValue | None:
    if request.endpoint == "api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorised("Send your API token as 'Authorization: Bearer ph_...'.")
    with transaction(services().pool) as conn:
        who = api_tokens.authenticate(conn, token.strip())
    if who is None:
        return _unauthorised("That API token is not valid (revoked or mistyped).")
    plan = plan_for(who.tier)
    if not plan.has_api:
        return error(403, "The API comes with the Elite plan.", upgrade="elite")
    wait = api_tokens.rate_limit(
        services().redis, settings().redis_prefix, who.user_id, plan.api_requests_per_minute
    )
    if wait is not None:
        response = error(429, f"Rate limit of {plan.api_requests_per_minute} requests a minute.")
        response.headers["Retry-After"] = str(wait)
        return response
    g.api_user = who
    return None


def _unauthorised(message: str) -> Response:
    response = error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="pricehawk-api"'
    return response


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _money(value: Decimal | None) -> str | None:
    # strings keep exact decimals (a JSON number would round-trip through a float)
    return None if value is None else f"{value:.2f}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def product_json(t: TrackedProduct) -> dict[str, Any]:
    """A tracked product as the API shows it."""
    return {
        "id": t.id,
        "url": t.url,
        "retailer": t.retailer,
        "title": t.title,
        "image_url": t.image_url,
        "price": _money(t.price),
        "currency": t.currency,
        "availability": t.availability,
        "lowest_price": _money(t.lowest_price),
        "last_observed_at": _time(t.last_observed_at),
        "paused": t.paused,
        "alerts": [
            {
                "kind": a.kind,
                "threshold": None if a.threshold is None else str(a.threshold.normalize()),
                "armed": a.armed,
                "last_fired_at": _time(a.last_fired_at),
            }
            for a in t.alerts
        ],
    }


def deal_json(d: Deal, now: datetime) -> dict[str, Any]:
    """A deal as the API shows it."""
    return {
        "id": d.glitch_id,
        "title": d.title,
        "url": d.url,
        "retailer": d.retailer,
        "category": d.category,
        "price": _money(d.price),
        "usual_price": _money(d.baseline),
        "currency": d.currency,
        "discount_pct": d.discount_pct,
        "glitch_type": d.glitch_type,
        "confidence": round(d.confidence, 3),
        "status": d.status,
        "observed_at": _time(d.observed_at),
        "validated_at": _time(d.validated_at),
        "ended_at": _time(d.ended_at),
        "lasted_seconds": int(d.lasted(now).total_seconds()),
    }


def point_json(p: PricePointRow) -> dict[str, Any]:
    return {
        "observed_at": _time(p.observed_at),
        "price": _money(p.price),
        "availability": p.availability,
    }


def _user_id() -> int:
    return int(g.api_user.user_id)


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.0 document of this API."""
    return jsonify(openapi_document(settings().public_base_url))


@bp.get("/products")
def list_products() -> ResponseReturnValue:
    """My tracked products."""
    items = tracking.list_for_user(services().pool, _user_id())
    return jsonify(products=[product_json(t) for t in items])


@bp.post("/products")
@csrf_exempt  # bearer-token authenticated; cookies are never read here
def add_product() -> ResponseReturnValue:
    """Track a product URL (its price is read now); 200 when it was already tracked."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return error(400, 'Send JSON like {"url": "https://shop.example/product/1"}.')
    who = g.api_user
    pool = services().pool
    before = {t.id for t in tracking.list_for_user(pool, who.user_id)}
    try:
        card = tracking.track_url(pool, settings(), who.user_id, who.tier, body["url"])
    except TrackLimitReached as exc:
        upgrade = next_tier_up(who.tier)
        return error(
            403, str(exc), limit=exc.limit, upgrade=upgrade.tier if upgrade is not None else None
        )
    except TrackError as exc:
        return error(422, str(exc))
    return jsonify(product_json(card)), (200 if card.id in before else 201)


@bp.get("/products/<int:product_id>")
def get_product(product_id: int) -> ResponseReturnValue:
    """One of my tracked products."""
    item = (
        tracking.get_for_user(services().pool, _user_id(), product_id)
        if product_id <= MAX_ID
        else None
    )
    if item is None:
        return error(404, "No tracked product with that id.")
    return jsonify(product_json(item))


@bp.delete("/products/<int:product_id>")
@csrf_exempt  # bearer-token authenticated
def delete_product(product_id: int) -> ResponseReturnValue:
    """Stop tracking a product."""
    if product_id > MAX_ID or not tracking.untrack(services().pool, _user_id(), product_id):
        return error(404, "No tracked product with that id.")
    return "", 204


@bp.get("/products/<int:product_id>/history")
def product_history(product_id: int) -> ResponseReturnValue:
    """A tracked product's prices over my plan's history depth, oldest first."""
    who, now = g.api_user, datetime.now(UTC)
    points = (
        tracking.history_for_user(services().pool, who.user_id, product_id, who.tier, now)
        if product_id <= MAX_ID
        else None
    )
    if points is None:
        return error(404, "No tracked product with that id.")
    return jsonify(product_id=product_id, points=[point_json(p) for p in points])


@bp.get("/deals")
def list_deals() -> ResponseReturnValue:
    """Deals my tier may see now, newest first."""
    raw = request.args.get("limit", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= deals.MAX_PAGE:
        return error(400, f"limit must be a whole number from 1 to {deals.MAX_PAGE}.")
    who, now = g.api_user, datetime.now(UTC)
    found = deals.deals_for_tier(services().pool, settings(), who.tier, now, int(raw))
    return jsonify(deals=[deal_json(d, now) for d in found])
