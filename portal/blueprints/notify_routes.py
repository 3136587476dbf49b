"""Notification routes: one-click unsubscribe, Telegram linking and its webhook.

Views only verify and hand off to pricehawk.notifications.linking.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, redirect, render_template_string, request
from flask.typing import ResponseReturnValue

from portal.web import csrf_exempt, current_user, login_required, services, settings
from pricehawk.notifications import linking

bp = Blueprint("notify", __name__)

CHANNEL_NAMES = {
    "email": "Email",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "discord": "Discord",
}

_PAGE = """{% extends "base.html" %}
{% block title %}{{ heading }}{% endblock %}
{% block content %}
<section class="card narrow">
  <h1>{{ heading }}</h1>
  <p>{{ message }}</p>
</section>
{% endblock %}"""


def _mask(kind: str, address: str) -> str:
    if kind == "email" and "@" in address:
        name, _, domain = address.partition("@")
        return f"{name[:2]}…@{domain}"
    if kind in ("sms", "whatsapp", "telegram"):
        return f"…{address[-4:]}"
    return "your Discord webhook"


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf_exempt  # the signed token is the authentication; POST is RFC 8058's one-click
def unsubscribe(token: str) -> ResponseReturnValue:
    """Turn off the channel the link names (no login) and say what was turned off."""
    done = linking.unsubscribe(services().pool, settings(), token)
    if done is None:
        body = render_template_string(
            _PAGE,
            heading="This link does not work",
            message="It is not a valid unsubscribe link. You can turn alerts off from your "
            "account page.",
        )
        return body, 404
    kind, address = done
    if request.method == "POST":
        return "", 204
    name = CHANNEL_NAMES.get(kind, kind)
    return render_template_string(
        _PAGE,
        heading=f"{name} alerts are off",
        message=f"PriceHawk will send no more alerts by {name} to {_mask(kind, address)}. "
        "You can turn them back on from your account page.",
    )


@bp.get("/account/telegram/link")
@login_required
def telegram_link() -> ResponseReturnValue:
    """Send the signed-in user to Telegram with a fresh single-use link token."""
    user = current_user()
    assert user is not None  # login_required
    return redirect(linking.telegram_link(services().pool, settings(), user.id))


@bp.post("/webhooks/telegram")
@csrf_exempt  # Telegram authenticates with the secret-token header instead
def telegram_webhook() -> ResponseReturnValue:
    """Bot API updates: check the secret header, then link a chat or reply politely."""
    sent = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
    if sent is None:
        return jsonify(error="missing secret token"), 401
    expected = settings().telegram_webhook_secret
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return jsonify(error="wrong secret token"), 403
    update = request.get_json(silent=True)
    if not isinstance(update, dict):
        return "", 200  # nothing we can act on; a non-2xx would only make Telegram retry
    reply = linking.handle_telegram_update(services().pool, settings(), update)
    return jsonify(reply) if reply else ("", 200)
