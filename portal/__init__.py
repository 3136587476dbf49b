"""The subscriber portal (Flask): app factory, blueprints, webhooks."""

from portal.app import create_app

__all__ = ["create_app"]
