"""Shared pieces of the crawl benchmarks: a throwaway database, a big served catalogue, a bare
spider, and a way to time crawls in one reactor."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The shop subprocess imports this module as benchmarks._crawlbench: _common must resolve too.
sys.path.insert(0, str(ROOT / "benchmarks"))

import scrapy  # noqa: E402
from _common import bench_database  # noqa: E402, F401 - re-exported for the crawl benchmarks

from pricehawk.settings import Settings, load_settings  # noqa: E402


def bench_settings(database_url: str, shop_url: str, home: Path) -> Settings:
    return dataclasses.replace(
        load_settings(
            {},
            home=home,
            database_url=database_url,
            redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
            redis_prefix=f"bench-{uuid.uuid4().hex[:8]}:",
        ),
        demo_shop_url=shop_url,
        log_level="ERROR",
    )


class ShopProcess:
    """The big shop in its own process, so its CPU does not share the crawler's GIL."""

    def __init__(self, copies: int) -> None:
        import subprocess

        code = (
            f"import sys, time; sys.path.insert(0, {str(ROOT)!r});"
            "from benchmarks._crawlbench import big_shop;"
            f"s = big_shop({copies}); print(s.url, len(s.shop.products), flush=True);"
            "time.sleep(10**6)"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        url, n = self.proc.stdout.readline().split()
        self.url, self.products = url, int(n)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def big_shop(copies: int) -> Any:
    """The demo shop with `copies` times its catalogue (same markup, new SKUs)."""
    from sandbox.demo_shop import DemoShop, ShopProduct, ShopServer

    shop = DemoShop()
    base = list(shop.products.values())
    for n in range(1, copies):
        for p in base:
            sku = f"{p.sku}-x{n}"
            shop.products[sku] = ShopProduct(
                p.retailer, sku, p.title, p.category, p.gtin[:-3] + f"{n:03d}", p.base_price
            )
    return ShopServer(shop).start()


class BareSpider(scrapy.Spider):
    """The baseline: fetch the same listings and product pages, parse, nothing else."""

    name = "bare"

    def __init__(self, start: list[str] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.start_list = start or []
        self.parsed = 0

    async def start(self) -> Any:
        for url in self.start_list:
            yield scrapy.Request(url, callback=self.parse_listing)

    def parse_listing(self, response: Any) -> Any:
        for href in response.css("a::attr(href)").getall():
            if "/product/" in href:
                yield response.follow(href, callback=self.parse_product)
        nxt = response.css("a[rel=next]::attr(href)").get()
        if nxt:
            yield response.follow(nxt, callback=self.parse_listing)

    def parse_product(self, response: Any) -> None:
        response.css("title::text").get()
        self.parsed += 1


def bare_settings() -> dict[str, Any]:
    """The bare spider's settings: same concurrency and reactor, none of our components."""
    import crawler.settings as cs

    return {
        "TWISTED_REACTOR": cs.TWISTED_REACTOR,
        "CONCURRENT_REQUESTS": cs.CONCURRENT_REQUESTS,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cs.CONCURRENT_REQUESTS_PER_DOMAIN,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "AUTOTHROTTLE_ENABLED": False,
    }


def elapsed(crawler: Any) -> float:
    stats = crawler.stats.get_stats()
    return float((stats["finish_time"] - stats["start_time"]).total_seconds())


def now() -> float:
    return time.perf_counter()
