"""Pure delivery decisions: what a provider's answer makes of a row, and whether a deal is live."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pricehawk.notifications.models import SendResult

# A glitch told more than this long after validation is re-checked first, whatever the tier:
# delayed tiers, sends that waited out quiet hours, retries and backlogs all qualify.
RECHECK_AFTER = timedelta(minutes=5)


def outcome_status(result: SendResult, attempts: int, max_attempts: int) -> str:
    """The row's next status after a send attempt (`attempts` counts this one)."""
    if result.accepted:
        return "sent"
    if result.unknown:
        return "review"  # it may have gone out: a person decides, nothing resends it
    if result.retryable:
        return "pending" if attempts < max_attempts else "dead"
    return "failed"


def backoff_seconds(attempts: int, retry_after_s: float | None = None) -> float:
    """Seconds before the next try: 30 s, 60 s, 120 s... capped at one hour, and never sooner
    than the provider's own Retry-After."""
    ours = float(min(3600, 30 * 2 ** max(0, attempts - 1)))
    return max(ours, float(retry_after_s or 0))


def needs_recheck(delayed_tier: bool, validated_at: datetime | None, now: datetime) -> bool:
    """Whether a glitch row must pass the liveness check before it goes out."""
    if validated_at is None:
        return False
    return delayed_tier or now - validated_at > RECHECK_AFTER


def still_live(
    glitch_price: Decimal,
    last_price: Decimal | None,
    last_observed_at: datetime | None,
    now: datetime,
    *,
    tolerance: float,
    max_age_s: float,
) -> str | None:
    """None when the latest price says the deal is still on; otherwise why it is not."""
    if last_price is None or last_observed_at is None:
        return "no current price"
    age = (now - last_observed_at).total_seconds()
    if age > max_age_s:
        return f"latest price is {age:.0f} s old"
    if abs(last_price - glitch_price) > glitch_price * Decimal(str(tolerance)):
        return f"price is now {last_price} (glitch price {glitch_price})"
    return None


def describe_age(seconds: float) -> str:
    """'4 min', '3 h 5 min', '2 days 1 h' — how long a deal has been live, for people."""
    minutes = max(0, int(seconds // 60))
    if minutes < 1:
        return f"{max(0, int(seconds))} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def parse_rates(raw: str) -> dict[str, float]:
    """`email=50,sms=1` -> {'email': 50.0, 'sms': 1.0}; 0 or a missing channel: unlimited."""
    rates: dict[str, float] = {}
    for part in raw.split(","):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip():
            try:
                rates[name.strip().lower()] = max(0.0, float(value))
            except ValueError:
                raise ValueError(
                    f"PRICEHAWK_CHANNEL_RATES: {part.strip()!r} is not a number"
                ) from None
    return rates
