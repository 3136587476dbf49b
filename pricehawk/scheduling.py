"""Deprecated: the console's "crawl now" still imports `queue_cycle` from here.

Scheduling lives in `pricehawk.crawl` (the rules and the workers' queue) and
`pricehawk.ops.crawl` (what the crawl DAG runs). This shim keeps the console's call and its
result shape while it moves to those; it adds no rule of its own. Delete it once
`pricehawk/console/actions.py` no longer imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pricehawk.db import transaction
from pricehawk.settings import Settings


@dataclass(frozen=True)
class QueuedCycle:
    """What was queued for one retailer (cycle_key None: nothing, see reason)."""

    retailer: str
    cycle_key: str | None
    start_urls: int = 0
    tracked_urls: int = 0
    reason: str = ""


def queue_cycle(
    pool: Any, settings: Settings, slug: str, now: datetime | None = None, *, force: bool = False
) -> QueuedCycle:
    """Queue the retailer's cycle into the workers' queue (`pricehawk.crawl.queue_cycle`).

    `force` (the console's "crawl now") gives the cycle a key of its own, so the current
    interval's de-duplication set does not swallow URLs queued earlier in it. Raises KeyError
    for a retailer that is not in the registry.
    """
    from pricehawk.crawl import cycle_key_for
    from pricehawk.crawl import queue_cycle as push
    from pricehawk.retailers import registry

    now = now or datetime.now(UTC)
    retailer = next((r for r in registry(settings) if r.slug == slug), None)
    if retailer is None:
        raise KeyError(f"no retailer {slug!r} in {settings.retailers_path}")
    with transaction(pool) as conn:
        row = conn.execute(
            """SELECT paused, last_crawl_at IS NULL OR last_crawl_at
                      + make_interval(secs => crawl_interval_s) <= %s AS due
                 FROM retailers WHERE slug = %s""",
            (now, slug),
        ).fetchone()
    if row is None or row["paused"] or not (force or row["due"]):
        return QueuedCycle(slug, None, reason="not due (already queued, or paused)")
    key = cycle_key_for(slug, now, 1 if force else retailer.crawl_interval_s)
    queued = push(settings, slug, key, now=now)
    start = min(queued, len(retailer.start_urls) + len(retailer.sitemaps))
    return QueuedCycle(slug, key, start, queued - start)
