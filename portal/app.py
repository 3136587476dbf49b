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
    from portal import web

    web.init_app(app, settings)
    from portal.blueprints import (
        account,
        auth,
        billing,
        health,
        notify_routes,
        pages,
        subscriber,
        webhooks,
    )

    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(billing.bp)
    app.register_blueprint(notify_routes.bp)
    subscriber.register(app)  # part 2: landing, pricing, dashboard, preferences, products, API
    return app
