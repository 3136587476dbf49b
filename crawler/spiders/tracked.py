"""The tracked-URL spider: product pages subscribers pasted (tracked_products -> products)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawler.spiders.base import PriceSpider
from pricehawk import db
from pricehawk.crawl.queries import tracked_urls


class TrackedSpider(PriceSpider):
    name = "tracked"

    async def start(self) -> AsyncIterator[Any]:
        if self.distributed:
            return  # queue_cycle puts tracked URLs in the shared queue
        settings = self.settings.get("PRICEHAWK_SETTINGS")
        retailers = self.selected()
        # One short query at start, before any download is in flight.
        with db.connect(db.database_url(settings)) as conn:
            urls = {r.slug: tracked_urls(conn, r.slug) for r in retailers}
        for retailer in retailers:
            for url in urls[retailer.slug]:
                yield self.request(url, "parse_product", retailer)
