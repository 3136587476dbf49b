"""The retailer registry as one crawl sees it: read once per crawler, shared by its spider and
middlewares (each used to parse every YAML file again)."""

from __future__ import annotations

from typing import Any

from pricehawk.retailers import Retailer, registry


def crawl_retailers(crawler: Any) -> dict[str, Retailer]:
    """Every configured retailer by slug, loaded at the first call of this crawl. Per crawler,
    not per process: a YAML edit takes effect at the next crawl."""
    cached: dict[str, Retailer] | None = getattr(crawler, "pricehawk_retailers", None)
    if cached is None:
        cached = {r.slug: r for r in registry(crawler.settings.get("PRICEHAWK_SETTINGS"))}
        crawler.pricehawk_retailers = cached
    return cached
