"""The catalogue spider: category listings (with pagination) and sitemaps -> product pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawler.spiders.base import PriceSpider


class CatalogSpider(PriceSpider):
    name = "catalog"

    async def start(self) -> AsyncIterator[Any]:
        if self.distributed:
            return  # the shared queue feeds distributed workers (pricehawk crawl --queue)
        for retailer in self.selected():
            for url in retailer.start_urls:
                yield self.request(url, "parse_listing", retailer)
            for url in retailer.sitemaps:
                yield self.request(url, "parse_sitemap", retailer)
