"""Deals and notification history for the dashboard, the landing page and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pricehawk.db import transaction
from pricehawk.deals import queries
from pricehawk.deals.models import Deal
from pricehawk.settings import Settings
from pricehawk.tiers import delay_for

MAX_PAGE = 100


def deals_for_tier(
    pool: Any, settings: Settings, tier: str, now: datetime, limit: int = 30
) -> list[Deal]:
    """Deals a subscriber of `tier` may see at `now` (its alert delay applied)."""
    delay = delay_for(tier, settings.tier_delays)
    with transaction(pool) as conn:
        return queries.visible_deals(conn, delay, now, max(1, min(limit, MAX_PAGE)))


def public_examples(pool: Any, settings: Settings, now: datetime, limit: int = 6) -> list[Deal]:
    """Recent glitches for the landing page: only what Free members may already see."""
    return deals_for_tier(pool, settings, "free", now, limit)


def history(pool: Any, user_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The user's notifications, newest first, with delivery status."""
    with transaction(pool) as conn:
        return queries.notification_history(conn, user_id, limit)
