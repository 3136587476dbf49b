"""Track a pasted URL: recognise the retailer, extract on demand, store, remember."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pricehawk.db import transaction
from pricehawk.extraction import SelectorConfig, extract
from pricehawk.fetch import FetchError, FetchResult, fetch
from pricehawk.plans import next_tier_up, plan_for
from pricehawk.prices.models import ScrapedProduct
from pricehawk.prices.queries import store_batch
from pricehawk.retailers import Retailer, registry, retailer_for_url
from pricehawk.settings import Settings
from pricehawk.tracking import queries
from pricehawk.tracking.models import (
    ALERT_KINDS,
    PricePointRow,
    TrackedProduct,
    TrackError,
    TrackLimitReached,
)

# Query parameters that only track marketing campaigns; dropping them makes one product one URL.
_TRACKING_PARAMS = ("utm_", "gclid", "fbclid", "mc_", "ref", "tag", "_ga")

Fetcher = Callable[..., FetchResult]


def normalise_url(raw: str) -> str:
    """The URL we store for a pasted link: http(s), no fragment, no campaign parameters."""
    text = raw.strip()
    bad = TrackError("That doesn't look like a product link (it should start with https://).")
    if text and "://" not in text:
        if re.match(r"^[A-Za-z][\w+.-]*:(?!\d)", text):  # another scheme: javascript:, mailto:
            raise bad
        text = "https://" + text
    try:
        parts = urlsplit(text)  # raises ValueError on a malformed IPv6 host ("http://[")
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PARAMS)
    ]
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def parse_alert(kind: str, raw_threshold: str | None) -> tuple[str, Decimal | None]:
    """Validate one per-product alert from a form or API call; TrackError says what is wrong."""
    if kind not in ALERT_KINDS:
        raise TrackError(f"Unknown alert {kind!r}; choose one of {', '.join(ALERT_KINDS)}.")
    if kind in ("new_low", "back_in_stock"):
        return kind, None
    try:
        value = Decimal((raw_threshold or "").strip().lstrip("$"))
    except InvalidOperation:
        raise TrackError("Enter a number, like 199.99 or 20.") from None
    if kind == "target_price" and not (0 < value < Decimal("10000000")):
        raise TrackError("The target price must be more than 0.")
    if kind == "pct_drop" and not (0 < value < 100):
        raise TrackError("The drop must be between 1 and 99 percent.")
    return kind, value


def _retailer(settings: Settings, url: str) -> Retailer:
    retailer = retailer_for_url(registry(settings), url)
    if retailer is None:
        host = urlsplit(url).hostname or url
        raise TrackError(f"PriceHawk doesn't cover {host} yet.")
    return retailer


def track_url(
    pool: Any,
    settings: Settings,
    user_id: int,
    tier: str,
    raw_url: str,
    *,
    fetcher: Fetcher = fetch,
) -> TrackedProduct:
    """Track a product page for a user, reading its price now. Raises TrackError."""
    url = normalise_url(raw_url)
    retailer = _retailer(settings, url)
    with transaction(pool) as conn:
        existing = queries.product_id_for(conn, retailer.slug, url)
        if existing is not None and queries.user_can_see_product(conn, user_id, existing):
            return next(t for t in queries.list_tracked(conn, user_id) if t.product_id == existing)
        limit = plan_for(tier).tracked_products
        if queries.count_tracked(conn, user_id) >= limit:
            upgrade = next_tier_up(tier)
            raise TrackLimitReached(limit, upgrade.name if upgrade else None)
    try:
        page = fetcher(url, user_agent=settings.user_agent, timeout=15.0)
    except FetchError as exc:
        raise TrackError(f"We couldn't load that page: {exc}") from exc
    if page.status >= 400:
        raise TrackError(f"The shop answered {page.status} for that page.")
    selectors = (
        SelectorConfig.from_mapping(dict(retailer.extraction)) if retailer.extraction else None
    )
    result = extract(
        page.text, page.url, selectors=selectors, locale=retailer.locale, currency=retailer.currency
    )
    if result.health != "ok" or result.price is None or result.currency is None:
        reason = result.health if result.health != "ok" else "no price on the page"
        raise TrackError(f"We couldn't read a price from that page ({reason.replace('_', ' ')}).")
    if result.ambiguous:
        raise TrackError(
            "That page shows several prices (variants?). Paste the link of one variant."
        )
    item = ScrapedProduct.from_extraction(
        result, retailer=retailer.slug, url=url, observed_at=datetime.now(UTC)
    )
    with transaction(pool) as conn:
        # checked again: another tab may have added one while we fetched
        if queries.count_tracked(conn, user_id) >= limit:
            upgrade = next_tier_up(tier)
            raise TrackLimitReached(limit, upgrade.name if upgrade else None)
        store_batch(conn, [item])
        product_id = queries.product_id_for(conn, retailer.slug, url)
        if product_id is None:
            raise TrackError("The product could not be saved; please try again.")
        tracked_id = queries.add_tracked(conn, user_id, product_id)
        return queries.list_tracked(conn, user_id, tracked_id)[0]


# --- what the portal and the API call (one transaction each) ------------------------------------

MAX_ID = 2**63 - 1  # ids are bigint: a larger number from a URL must not reach SQL


def _valid(tracked_id: int) -> bool:
    return 0 < tracked_id <= MAX_ID


def list_for_user(pool: Any, user_id: int) -> list[TrackedProduct]:
    """The user's tracked products, newest first."""
    with transaction(pool) as conn:
        return queries.list_tracked(conn, user_id)


def get_for_user(pool: Any, user_id: int, tracked_id: int) -> TrackedProduct | None:
    """One of the user's own tracked products (None for anyone else's)."""
    if not _valid(tracked_id):
        return None
    with transaction(pool) as conn:
        found = queries.list_tracked(conn, user_id, tracked_id)
    return found[0] if found else None


def history_for_user(
    pool: Any, user_id: int, tracked_id: int, tier: str, now: datetime
) -> list[PricePointRow] | None:
    """A tracked product's prices over the plan's history depth (None: not the user's)."""
    if not _valid(tracked_id):
        return None
    since = now - timedelta(days=plan_for(tier).history_days)
    with transaction(pool) as conn:
        found = queries.list_tracked(conn, user_id, tracked_id)
        if not found:
            return None
        return queries.price_history(conn, found[0].product_id, since)


def set_alert(
    pool: Any, user_id: int, tracked_id: int, kind: str, raw_threshold: str | None
) -> bool:
    """Create or change an alert; False when the product is not the user's. Raises TrackError."""
    kind, threshold = parse_alert(kind, raw_threshold)
    if not _valid(tracked_id):
        return False
    with transaction(pool) as conn:
        return queries.upsert_alert(conn, user_id, tracked_id, kind, threshold)


def remove_alert(pool: Any, user_id: int, tracked_id: int, kind: str) -> bool:
    """Delete one alert of the user's own tracked product."""
    if not _valid(tracked_id):
        return False
    with transaction(pool) as conn:
        return queries.delete_alert(conn, user_id, tracked_id, kind)


def pause(pool: Any, user_id: int, tracked_id: int, paused: bool) -> bool:
    """Pause or resume a tracked product's alerts."""
    if not _valid(tracked_id):
        return False
    with transaction(pool) as conn:
        return queries.set_paused(conn, user_id, tracked_id, paused)


def untrack(pool: Any, user_id: int, tracked_id: int) -> bool:
    """Stop tracking a product (its alerts go with it)."""
    if not _valid(tracked_id):
        return False
    with transaction(pool) as conn:
        return queries.remove_tracked(conn, user_id, tracked_id)
