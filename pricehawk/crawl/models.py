"""Plain values of the crawl domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DueRetailer:
    """A retailer whose next crawl cycle is due (or whose open circuit may be tried again)."""

    id: int
    slug: str
    crawl_interval_s: int
    circuit_state: str  # closed | half_open (an open circuit past its retry time)
    cycle_key: str


@dataclass(frozen=True)
class Seed:
    """One request queued for the workers: what to fetch, and which callback reads it."""

    url: str
    spider: str  # catalog | tracked (the spider that made it; all share one queue)
    callback: str  # parse_listing | parse_sitemap | parse_product
    retailer: str
    cycle: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    priority: int = 0

    def to_request_dict(self) -> dict[str, Any]:
        """The request in the (JSON) form the workers' scheduler queue holds."""
        return {
            "url": self.url,
            "callback": self.callback,
            "errback": "on_error",
            "method": "GET",
            "headers": {},
            "meta": {"cycle": self.cycle, "retailer": self.retailer},
            "cb_kwargs": {"retailer": self.retailer, **self.kwargs},
            "priority": self.priority,
            "dont_filter": False,
        }


@dataclass(frozen=True)
class RunOutcome:
    """What one retailer's crawl in one cycle came to, summed over every worker's run."""

    retailer: str
    cycle_key: str
    runs: int
    pages: int
    items: int
    blocked: int
    failures: dict[str, int]
    finished: bool
    last_finished_at: datetime | None = None

    @property
    def block_rate(self) -> float:
        """Share of product pages that were block pages, CAPTCHAs or walls."""
        return self.blocked / self.items if self.items else 0.0
