"""Which tier hears of a glitch, and when (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

TIERS = ("free", "starter", "pro", "elite")


def delay_for(tier: str, delays: Mapping[str, int]) -> timedelta:
    """The alert delay of a tier; unknown tiers get the longest delay, never the shortest."""
    if tier in delays:
        return timedelta(seconds=delays[tier])
    return timedelta(seconds=max(delays.values(), default=0))


def due_at(tier: str, validated_at: datetime, delays: Mapping[str, int]) -> datetime:
    """When a subscriber of `tier` may be told of a glitch validated at `validated_at`."""
    return validated_at + delay_for(tier, delays)


def is_delayed(tier: str, delays: Mapping[str, int]) -> bool:
    """Delayed tiers get a liveness re-check before their alert goes out."""
    return delay_for(tier, delays) > timedelta(0)
