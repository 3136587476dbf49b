"""What each subscription tier includes (the pricing page, limits and API access)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Plan:
    tier: str
    name: str
    monthly_usd: Decimal
    annual_usd: Decimal  # per year, billed once
    alert_delay: str  # as subscribers read it; the real delay is PRICEHAWK_TIER_DELAYS
    channels: tuple[str, ...]
    tracked_products: int
    history_days: int
    api_requests_per_minute: int  # 0: no API access

    @property
    def has_api(self) -> bool:
        return self.api_requests_per_minute > 0

    @property
    def annual_saving_pct(self) -> int:
        full = self.monthly_usd * 12
        return 0 if full == 0 else round((1 - self.annual_usd / full) * 100)


PLANS: tuple[Plan, ...] = (
    Plan("free", "Free", Decimal("0"), Decimal("0"), "72 hours", ("email",), 3, 30, 0),
    Plan("starter", "Starter", Decimal("9"), Decimal("90"), "24 hours",
         ("email", "telegram", "discord"), 25, 180, 0),
    Plan("pro", "Pro", Decimal("29"), Decimal("290"), "instant",
         ("email", "sms", "whatsapp", "telegram", "discord"), 100, 730, 0),
    Plan("elite", "Elite", Decimal("79"), Decimal("790"), "instant",
         ("email", "sms", "whatsapp", "telegram", "discord"), 500, 3650, 120),
)  # fmt: skip

_BY_TIER = {p.tier: p for p in PLANS}


def plan_for(tier: str) -> Plan:
    """The plan of a tier; an unknown tier gets Free's limits, never more."""
    return _BY_TIER.get(tier, _BY_TIER["free"])


def channel_allowed(tier: str, channel: str) -> bool:
    """Whether a tier may receive alerts on a channel (`file` is the demo's, always allowed)."""
    return channel == "file" or channel in plan_for(tier).channels


def next_tier_up(tier: str) -> Plan | None:
    """The plan to suggest when a limit is reached."""
    order = [p.tier for p in PLANS]
    index = order.index(tier) if tier in order else 0
    return PLANS[index + 1] if index + 1 < len(PLANS) else None
