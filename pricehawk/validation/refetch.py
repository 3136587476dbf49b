"""The confirming re-fetch: read the page again before telling anyone (per retailer).

A glitch that is already fixed, or a price that only a stale cache or a bad scrape showed,
must not go out. Pure decision in `after_refetch`; the I/O is `refetch_price`.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from pricehawk.settings import Settings
from pricehawk.validation.models import AnomalyRecord, Verdict

log = logging.getLogger(__name__)

# the re-read price may differ this much from the flagged one and still confirm it
TOLERANCE = Decimal("0.05")


def wanted(settings: Settings, retailer: str) -> bool:
    """Whether PRICEHAWK_CONFIRM_REFETCH asks for re-fetches at this retailer."""
    slugs = {s.strip() for s in settings.confirm_refetch_raw.split(",") if s.strip()}
    return "*" in slugs or retailer in slugs


def refetch_price(settings: Settings, url: str) -> Decimal | None:
    """The page's price now (None when it cannot be fetched or read)."""
    from pricehawk.extraction import extract
    from pricehawk.fetch import FetchError, fetch

    try:
        page = fetch(url, user_agent=settings.user_agent, timeout=settings.llm_timeout_s)
    except FetchError as exc:
        log.info("re-fetch of %s failed: %s", url, exc)
        return None
    result = extract(page.content or page.text, page.url, status=page.status)
    return result.price if result.health == "ok" else None


def after_refetch(verdict: Verdict, anomaly: AnomalyRecord, now: Decimal | None) -> Verdict:
    """The verdict once the page was read again: a price that moved back up is no glitch."""
    if not verdict.is_glitch:
        return verdict
    if now is None:
        note = "; re-fetch could not read the page, verdict kept"
        return Verdict(True, verdict.confidence, verdict.glitch_type,
                       verdict.reasoning + note, verdict.validator)  # fmt: skip
    if now <= anomaly.price * (1 + TOLERANCE):
        note = f"; re-fetch confirmed {now}"
        return Verdict(True, min(1.0, verdict.confidence + 0.02), verdict.glitch_type,
                       verdict.reasoning + note, verdict.validator)  # fmt: skip
    return Verdict(
        False,
        verdict.confidence,
        verdict.glitch_type,
        f"{verdict.reasoning}; re-fetch shows {now} now, the {anomaly.price} price is gone",
        "refetch",
    )
