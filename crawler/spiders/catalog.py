"""The catalogue spider: category listings (with pagination) -> product pages -> items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from pricehawk.extraction import SelectorConfig, extract
from pricehawk.prices.models import ScrapedProduct
from pricehawk.retailers import Retailer, registry


class CatalogSpider(scrapy.Spider):
    name = "catalog"

    def __init__(self, retailers: str = "", cycle_key: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.only = {s for s in retailers.split(",") if s}
        self.cycle_key = cycle_key or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    def retailers(self) -> list[Retailer]:
        settings = self.settings.get("PRICEHAWK_SETTINGS")
        found = registry(settings)
        return [r for r in found if not self.only or r.slug in self.only]

    async def start(self) -> Any:
        for retailer in self.retailers():
            for url in retailer.start_urls:
                yield scrapy.Request(
                    url, callback=self.parse_listing, cb_kwargs={"retailer": retailer}
                )

    def parse_listing(self, response: Response, retailer: Retailer) -> Iterator[scrapy.Request]:
        category = _category_of(response.url, retailer)
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if retailer.product_url_pattern and retailer.product_url_pattern in url:
                yield scrapy.Request(
                    url,
                    callback=self.parse_product,
                    cb_kwargs={"retailer": retailer, "category": category},
                )
        next_page = response.css("a[rel=next]::attr(href)").get()
        if next_page:
            yield response.follow(
                next_page, callback=self.parse_listing, cb_kwargs={"retailer": retailer}
            )

    def parse_product(
        self, response: Response, retailer: Retailer, category: str | None = None
    ) -> Iterator[ScrapedProduct]:
        result = extract(
            response.text,
            response.url,
            selectors=SelectorConfig.from_mapping(dict(retailer.extraction))
            if retailer.extraction
            else None,
            locale=retailer.locale,
            currency=retailer.currency,
        )
        self.crawler.stats.inc_value(f"pricehawk/health/{result.health}")
        yield ScrapedProduct(
            retailer=retailer.slug,
            url=response.url,
            observed_at=datetime.now(UTC),
            health=result.health,
            price=result.price,
            list_price=result.list_price,
            currency=result.currency,
            availability=result.availability,
            title=result.title,
            sku=result.sku,
            gtin=result.gtin,
            mpn=result.mpn,
            brand=result.brand,
            category=category,
            image=result.image,
            method=result.method,
        )


def _category_of(url: str, retailer: Retailer) -> str | None:
    """The category a listing URL stands for, mapped through the retailer's categories."""
    path = urlsplit(url).path.rstrip("/")
    slug = path.rsplit("/", 1)[-1]
    return retailer.categories.get(slug, slug or None)
