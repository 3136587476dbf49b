"""Inbound webhooks (`/webhooks/<provider>`): verify, then hand off to the domain."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
