"""What both spiders share: requests tagged with retailer and cycle, product parsing through
pricehawk.extraction, failover on block pages, failure accounting, in-flight acks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from crawler import metrics
from crawler.config import crawl_retailers
from crawler.scheduler import ACK
from pricehawk.crawl.decisions import BAN_HEALTH, BLOCK_HEALTH
from pricehawk.extraction import SelectorConfig, extract
from pricehawk.prices.models import ScrapedProduct
from pricehawk.retailers import Retailer

BROWSER_BLOCKED_RESOURCES = frozenset({"image", "font", "media"})


class PriceSpider(scrapy.Spider):
    """Base of the catalogue and tracked-URL spiders."""

    name = "price-base"

    def __init__(
        self, retailers: str = "", cycle_key: str = "", distributed: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.only = {s for s in retailers.split(",") if s}
        self.cycle_key = cycle_key or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.distributed = bool(distributed)
        self.inflight: Any = None  # set by the distributed scheduler
        self.pending_acks: dict[str, str] = {}
        # (retailer, cycle) -> counters; the run tracker writes them to crawl_runs
        self.counters: dict[tuple[str, str], Counter[str]] = {}
        self.started_at = datetime.now(UTC)
        self._by_slug: dict[str, Retailer] | None = None
        self._selectors: dict[str, SelectorConfig | None] = {}

    # --- configuration ----------------------------------------------------------------

    @property
    def by_slug(self) -> dict[str, Retailer]:
        if self._by_slug is None:
            self._by_slug = crawl_retailers(self.crawler)
        return self._by_slug

    def selected(self) -> list[Retailer]:
        """Retailers this crawl covers: the named ones, else every enabled one."""
        if self.only:
            return [r for s, r in self.by_slug.items() if s in self.only]
        return [r for r in self.by_slug.values() if r.enabled]

    def selectors(self, retailer: Retailer) -> SelectorConfig | None:
        if retailer.slug not in self._selectors:
            self._selectors[retailer.slug] = (
                SelectorConfig.from_mapping(dict(retailer.extraction))
                if retailer.extraction
                else None
            )
        return self._selectors[retailer.slug]

    def count(self, retailer: str, cycle: str, name: str, n: int = 1) -> None:
        self.counters.setdefault((retailer, cycle), Counter())[name] += n

    # --- requests ---------------------------------------------------------------------

    def request(
        self,
        url: str,
        callback: str,
        retailer: Retailer,
        cycle: str | None = None,
        **cb_kwargs: Any,
    ) -> scrapy.Request:
        """A request tagged with its retailer and cycle, in the retailer's download slot,
        through a browser when the retailer needs one."""
        meta: dict[str, Any] = {
            "retailer": retailer.slug,
            "cycle": cycle or self.cycle_key,
            "download_slot": retailer.slug,
        }
        if retailer.fetch == "browser" and callback == "parse_product":
            meta.update(browser_meta(retailer))
        return scrapy.Request(
            url,
            callback=getattr(self, callback),
            errback=self.on_error,
            meta=meta,
            cb_kwargs={"retailer": retailer.slug, **cb_kwargs},
            priority=10 if callback == "parse_product" else 0,
        )

    def _retailer(self, slug: str | Retailer) -> Retailer:
        return slug if isinstance(slug, Retailer) else self.by_slug[slug]

    # --- callbacks --------------------------------------------------------------------

    def parse_listing(
        self, response: Response, retailer: str, category: str | None = None
    ) -> Iterator[scrapy.Request]:
        """A category page: its product links, then its next page."""
        r = self._retailer(retailer)
        cycle = response.meta.get("cycle", self.cycle_key)
        self.count(r.slug, cycle, "pages")
        category = category or _category_of(response.url, r)
        link_css = r.listing.get("product_links", "a::attr(href)")
        for href in response.css(link_css).getall():
            url = response.urljoin(href)
            if r.is_product_url(url):
                yield self.request(url, "parse_product", r, cycle, category=category)
        next_css = r.listing.get("next_page", "a[rel=next]::attr(href)")
        next_page = response.css(next_css).get()
        if next_page:
            yield self.request(
                response.urljoin(next_page), "parse_listing", r, cycle, category=category
            )
        self.ack(response.meta.get(ACK))

    def parse_sitemap(self, response: Response, retailer: str) -> Iterator[scrapy.Request]:
        """A sitemap or sitemap index: product URLs of this retailer, nested sitemaps."""
        r = self._retailer(retailer)
        cycle = response.meta.get("cycle", self.cycle_key)
        self.count(r.slug, cycle, "pages")
        response.selector.remove_namespaces()
        for loc in response.xpath("//sitemap/loc/text()").getall():
            yield self.request(loc.strip(), "parse_sitemap", r, cycle)
        for loc in response.xpath("//url/loc/text()").getall():
            url = loc.strip()
            if r.is_product_url(url):
                yield self.request(url, "parse_product", r, cycle)
        self.ack(response.meta.get(ACK))

    def parse_product(
        self, response: Response, retailer: str, category: str | None = None
    ) -> Iterator[ScrapedProduct | scrapy.Request]:
        """A product page: a price, or the reason there is none (never a block page's)."""
        r = self._retailer(retailer)
        cycle = response.meta.get("cycle", self.cycle_key)
        self.count(r.slug, cycle, "pages")
        result = extract(
            response.text,
            response.url,
            selectors=self.selectors(r),
            locale=r.locale,
            currency=r.currency,
            status=response.status,
        )
        health = result.health
        self.crawler.stats.inc_value(f"pricehawk/health/{health}")
        if health in BAN_HEALTH and response.meta.get("proxy"):
            proxies = getattr(self.crawler, "pricehawk_proxies", None)
            failover = proxies.ban(response.request) if proxies else None
            if failover is not None:
                yield failover  # the same page through the next proxy
                return
        metrics.ITEMS.labels(r.slug, health).inc()
        self.count(r.slug, cycle, "items")
        if health != "ok":
            self.count(r.slug, cycle, f"failure:{health}")
            metrics.FAILURES.labels(r.slug, health).inc()
            if health in BLOCK_HEALTH:
                self.count(r.slug, cycle, "blocked")
        ack = response.meta.get(ACK)
        if ack:
            self.pending_acks[response.url] = ack
        yield ScrapedProduct.from_extraction(
            result,
            retailer=r.slug,
            url=response.url,
            observed_at=datetime.now(UTC),
            category=category,
        )

    def on_error(self, failure: Any) -> Iterator[ScrapedProduct]:
        """A request that failed for good (after retries and failover): count why; a product
        page records the failed fetch so it keeps its last known good price."""
        request = failure.request
        slug = request.meta.get("retailer", "")
        cycle = request.meta.get("cycle", self.cycle_key)
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"http_{response.status}"
        else:
            text = str(failure.value)
            reason = (
                text.split(":", 1)[0]
                if text.startswith("robots_")
                else (failure.type.__name__ if failure.type else "error")
            )
        self.crawler.stats.inc_value(f"pricehawk/failure/{reason}")
        if slug in self.by_slug:
            self.count(slug, cycle, f"failure:{reason}")
            metrics.FAILURES.labels(slug, reason).inc()
        ack = request.meta.get(ACK)
        if request.callback == self.parse_product and slug in self.by_slug:
            if ack:
                self.pending_acks[request.url] = ack
            yield ScrapedProduct(
                retailer=slug, url=request.url, observed_at=datetime.now(UTC), health=reason
            )
        else:
            self.ack(ack)

    # --- acknowledgements -------------------------------------------------------------

    def ack(self, payload: str | None) -> None:
        """This request's work is done (distributed mode; a no-op in process)."""
        if payload and self.inflight is not None:
            self.inflight.ack(payload)

    def ack_stored(self, urls: list[str]) -> None:
        """The pipeline committed these product pages: their requests are done."""
        for url in urls:
            self.ack(self.pending_acks.pop(url, None))


def browser_meta(retailer: Retailer) -> dict[str, Any]:
    """scrapy-playwright meta: wait for the price to render; one context per retailer
    (bounded and reused); the page is closed by the handler (include_page stays False)."""
    from scrapy_playwright.page import PageMethod

    methods = []
    wait_for = retailer.browser.get("wait_for")
    if wait_for:
        timeout = int(retailer.browser.get("timeout_ms", 10000))
        methods.append(PageMethod("wait_for_selector", wait_for, timeout=timeout))
    return {
        "playwright": True,
        "playwright_context": f"retailer-{retailer.slug}",
        "playwright_page_methods": methods,
    }


def abort_heavy_resources(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: images, fonts and media never load in our browsers."""
    return bool(request.resource_type in BROWSER_BLOCKED_RESOURCES)


def _category_of(url: str, retailer: Retailer) -> str | None:
    """The category a listing URL stands for, mapped through the retailer's categories."""
    path = urlsplit(url).path.rstrip("/")
    slug = path.rsplit("/", 1)[-1]
    return retailer.categories.get(slug, slug or None)
