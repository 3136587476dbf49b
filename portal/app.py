"""The Flask app factory (the flaskr way): settings in, blueprints registered."""

from __future__ import annotations

from typing import Any

from flask import Flask

from pricehawk.settings import Settings, load_settings


def create_app(settings: Settings | None = None, **config: Any) -> Flask:
    """Build the portal for these settings (default: loaded from the environment)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(PRICEHAWK_SETTINGS=settings, **config)
    from portal.blueprints import health, webhooks

    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    return app
