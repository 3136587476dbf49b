"""/preferences: channels (with verification and test alerts) and deal filters.

Views only read the form and call pricehawk.preferences.service; errors come back as words
shown next to their field, with status 400.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.web import current_user, login_required, services, settings
from pricehawk.plans import plan_for
from pricehawk.preferences import service
from pricehawk.preferences.models import Preferences

bp = Blueprint("preferences", __name__, url_prefix="/preferences")
KINDS = service.CHANNEL_KINDS


def _field(name: str) -> str:
    values = request.form.getlist(name)
    return values[0] if len(values) == 1 else ""


def _page(
    errors: dict[str, str] | None = None,
    form_prefs: Preferences | None = None,
    status: int = 200,
    message: str | None = None,
) -> ResponseReturnValue:
    user = current_user()
    assert user is not None  # login_required
    data = service.page_data(services().pool, user.id, user.tier)
    shown = form_prefs or data.prefs or Preferences(timezone=data.timezone)
    return (
        render_template(
            "preferences.html",
            user=user,
            plan=plan_for(user.tier),
            data=data,
            prefs=shown,
            saved=data.prefs is not None,
            errors=errors or {},
            message=message,
            timezones=_timezones(),
        ),
        status,
    )


def _timezones() -> list[str]:
    from zoneinfo import available_timezones

    # the picker lists region/city zones; 'UTC' first
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return ["UTC", *zones]


def _done(notice: str, anchor: str = "channels") -> ResponseReturnValue:
    return redirect(url_for("preferences.index", notice=notice, _anchor=anchor), code=303)


def _kind(kind: str) -> str | None:
    return kind if kind in KINDS else None


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    """Channels and filters."""
    return _page()


@bp.post("")
@login_required
def save() -> ResponseReturnValue:
    """Save the filters, quiet hours, time zone and daily cap."""
    user = current_user()
    assert user is not None
    form = {k: _field(k) for k in request.form if k not in ("retailers", "categories")}
    multi: dict[str, Any] = {
        "retailers": request.form.getlist("retailers"),
        "categories": request.form.getlist("categories"),
    }
    prefs, errors = service.save_preferences(services().pool, user.id, form, multi)
    if errors:
        return _page({f"prefs.{k}": v for k, v in errors.items()}, prefs, 400)
    return _done("prefs_saved", "filters")


@bp.post("/email")
@login_required
def use_email() -> ResponseReturnValue:
    """Send alerts to the account's own (confirmed) address."""
    user = current_user()
    assert user is not None
    error = service.use_account_email(
        services().pool, user.id, user.tier, user.email, user.verified
    )
    if error:
        return _page({"email": error}, status=400)
    return _done("email_on")


@bp.post("/phone/<kind>")
@login_required
def send_code(kind: str) -> ResponseReturnValue:
    """Text a verification code to an SMS or WhatsApp number."""
    user = current_user()
    assert user is not None
    if kind not in service.PHONE_KINDS:
        return _page({"form": "Unknown channel."}, status=404)
    svc = services()
    error = service.send_code(
        svc.pool, settings(), svc.redis, svc.secret, user.id, user.tier, kind, _field("number")
    )
    if error:
        return _page({kind: error}, status=400)
    return _done("code_sent")


@bp.post("/phone/<kind>/verify")
@login_required
def verify_code(kind: str) -> ResponseReturnValue:
    """Check the code typed back."""
    user = current_user()
    assert user is not None
    if kind not in service.PHONE_KINDS:
        return _page({"form": "Unknown channel."}, status=404)
    svc = services()
    error = service.confirm_code(svc.pool, svc.secret, user.id, kind, _field("code"))
    if error:
        return _page({f"{kind}.code": error}, status=400)
    return _done("channel_verified")


@bp.post("/discord")
@login_required
def connect_discord() -> ResponseReturnValue:
    """Check a Discord webhook with a test message, then save it."""
    user = current_user()
    assert user is not None
    error = service.connect_discord(
        services().pool, settings(), user.id, user.tier, _field("webhook_url")
    )
    if error:
        return _page({"discord": error}, status=400)
    return _done("discord_connected")


@bp.post("/channels/<kind>/test")
@login_required
def test_alert(kind: str) -> ResponseReturnValue:
    """Send a test alert on one verified channel."""
    user = current_user()
    assert user is not None
    if _kind(kind) is None:
        return _page({"form": "Unknown channel."}, status=404)
    svc = services()
    sent, message = service.test_alert(svc.pool, settings(), svc.redis, user.id, kind)
    if not sent:
        return _page({kind: message}, status=400)
    return _done("test_sent")


@bp.post("/channels/<kind>/toggle")
@login_required
def toggle(kind: str) -> ResponseReturnValue:
    """Pause or resume a channel."""
    user = current_user()
    assert user is not None
    enabled = _field("enabled") == "1"
    if _kind(kind) is None or not service.set_enabled(services().pool, user.id, kind, enabled):
        return _page({"form": "You have no such channel."}, status=404)
    return _done("channel_resumed" if enabled else "channel_paused")


@bp.post("/channels/<kind>/remove")
@login_required
def remove(kind: str) -> ResponseReturnValue:
    """Forget a channel."""
    user = current_user()
    assert user is not None
    if _kind(kind) is None:
        return _page({"form": "Unknown channel."}, status=404)
    service.remove_channel(services().pool, user.id, kind)
    return _done("channel_removed")
