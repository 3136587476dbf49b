"""Inbound webhooks (`/webhooks/<provider>`): verify, then hand off to the domain."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from portal.web import csrf_exempt, send_emails, services, settings
from pricehawk.billing import service as billing
from pricehawk.billing.gateway import verify_signature

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@csrf_exempt
def stripe_webhook() -> ResponseReturnValue:
    """Stripe events: 400 on a bad or stale signature or a malformed body; 200 once the event
    is recorded (or was already); 5xx when it could not be, so Stripe retries."""
    secret = settings().stripe_webhook_secret
    if not secret:
        log.error("STRIPE_WEBHOOK_SECRET is not set: refusing Stripe webhooks")
        return jsonify(error="webhooks are not configured"), 503
    payload = request.get_data(cache=False)
    try:
        verify_signature(payload, request.headers.get("Stripe-Signature"), secret)
    except ValueError as exc:
        return jsonify(error=f"invalid signature: {exc}"), 400
    try:
        event = json.loads(payload)
        if not isinstance(event, dict):
            raise ValueError("not an object")
        handled = billing.handle_event(services().pool, settings(), event)
    except ValueError as exc:
        return jsonify(error=f"malformed event: {exc}"), 400
    except Exception:
        log.exception("could not record Stripe event")
        return jsonify(error="could not record the event; retry"), 500
    send_emails(handled.emails)
    return jsonify(received=True, duplicate=handled.duplicate, action=handled.action)
