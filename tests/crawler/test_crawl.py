"""End-to-end crawls of the served demo shop (each crawl is its own process)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pricehawk import db
from pricehawk.crawl.queue import queue_cycle, queue_depth
from pricehawk.redis_conn import connect_redis
from pricehawk.settings import Settings
from tests.crawler.conftest import CrawlHosts, write_retailer


def _observations(settings: Settings, slug: str = "acme") -> int:
    with db.connect(settings.database_url) as c:
        row = c.execute(
            """SELECT count(*) AS n FROM price_observations o JOIN products p ON p.id = o.product_id
               JOIN retailers r ON r.id = p.retailer_id WHERE r.slug = %s""",
            (slug,),
        ).fetchone()
    assert row is not None
    return int(row["n"])


def _product_paths(shop: Any, prefix: str = "/acme/product/") -> Counter[str]:
    return Counter(p for p in shop.shop.paths if p.startswith(prefix))


def test_queue_cycle_deduplicates_within_a_cycle_only(shop_settings: Settings) -> None:
    from pricehawk.retailers import registry, sync_retailers

    with db.connect(shop_settings.database_url) as c:
        sync_retailers(c, registry(shop_settings))
        c.commit()
    client = connect_redis(shop_settings)
    assert queue_cycle(shop_settings, "acme", "k1") == 3
    assert queue_cycle(shop_settings, "acme", "k1") == 0  # a retried task queues nothing twice
    assert queue_cycle(shop_settings, "acme", "k2") == 3  # the next cycle queues them again
    assert queue_depth(client, shop_settings) == 6


@pytest.mark.slow
def test_each_page_once_per_cycle_again_next_cycle_and_block_pages_are_never_prices(
    shop_settings: Settings, demo_shop: Any, crawl_hosts: CrawlHosts, tmp_path: Path
) -> None:
    # the sitemap lists every product the listings link to: two routes to each page
    retailers = write_retailer(tmp_path / "retailers", sitemaps=["{demo_shop}/sitemap.xml"])
    settings = dataclasses.replace(shop_settings, retailers_dir=str(retailers))
    crawl_hosts.run(settings, retailers, retailers=["acme"], cycle="c1")
    first = _product_paths(demo_shop)
    assert len(first) == 12 and set(first.values()) == {1}  # de-duplicated within the cycle
    assert _observations(settings) == 12

    # the next cycle the shop answers every product page with a CAPTCHA page (status 200)
    demo_shop.shop.require_proxy = "nobody"
    crawl_hosts.run(settings, retailers, retailers=["acme"], cycle="c2")
    assert set(_product_paths(demo_shop).values()) == {2}  # revisited: never de-duplicated across
    assert _observations(settings) == 12  # nothing new stored
    with db.connect(settings.database_url) as c:
        runs = c.execute(
            "SELECT cycle_key, items, blocked, failures, status FROM crawl_runs ORDER BY id"
        ).fetchall()
        products = c.execute("SELECT last_price, last_fetch_error FROM products").fetchall()
        retailer = c.execute(
            "SELECT flagged_at, slowdown_factor, block_rate FROM retailers WHERE slug = 'acme'"
        ).fetchone()
    assert [(r["cycle_key"], r["items"], r["blocked"], r["status"]) for r in runs] == [
        ("c1", 12, 0, "finished"),
        ("c2", 12, 12, "finished"),
    ]
    assert runs[1]["failures"] == {"captcha": 12}
    assert all(p["last_price"] is not None for p in products)  # last known good price kept
    assert {p["last_fetch_error"] for p in products} == {"captcha"}
    assert retailer is not None and retailer["flagged_at"] is not None
    assert retailer["block_rate"] == 1.0 and retailer["slowdown_factor"] > 1


@pytest.mark.slow
def test_robots_txt_4xx_allows_5xx_disallows_and_retries_back_off(
    shop_settings: Settings,
    demo_shop: Any,
    second_shop: Any,
    crawl_hosts: CrawlHosts,
    tmp_path: Path,
) -> None:
    demo_shop.shop.robots_status = 404  # acme's site: "unavailable", so crawl everything
    flaky = "/acme/product/acme-laptops-1"
    demo_shop.shop.fail_first[flaky] = 2  # two 503s, then the page
    second_shop.shop.robots_status = 503  # globex's site: "unreachable", so crawl nothing
    retailers = write_retailer(tmp_path / "retailers", "acme")
    write_retailer(retailers, "globex", shop_url=second_shop.url)
    settings = dataclasses.replace(shop_settings, retailers_dir=str(retailers))
    crawl_hosts.run(settings, retailers, retailers=["acme", "globex"])

    assert _observations(settings, "acme") == 12
    assert _product_paths(demo_shop)[flaky] == 3
    assert _observations(settings, "globex") == 0
    assert second_shop.shop.paths == ["/robots.txt"]
    with db.connect(settings.database_url) as c:
        row = c.execute(
            """SELECT c.failures FROM crawl_runs c JOIN retailers r ON r.id = c.retailer_id
               WHERE r.slug = 'globex'"""
        ).fetchone()
    assert row is not None and row["failures"] == {"robots_unreachable": 3}


@pytest.mark.slow
def test_proxy_failover_through_real_forward_proxies(
    shop_settings: Settings,
    demo_shop: Any,
    second_shop: Any,
    crawl_hosts: CrawlHosts,
    tmp_path: Path,
) -> None:
    from sandbox.proxy import ForwardProxy

    # acme's site bans with a CAPTCHA page (200), globex's with 429 + Retry-After
    for shop, ban in ((demo_shop, "captcha"), (second_shop, "429")):
        shop.shop.require_proxy = "good"
        shop.shop.ban_response = ban
    # Each retailer its own pool: proxy.py reuses a client connection's upstream whatever
    # host the next request names, so one pool across two sites would cross the wires.
    with contextlib.ExitStack() as stack:
        retailers = tmp_path / "retailers"
        for shop, slug in ((demo_shop, "acme"), (second_shop, "globex")):
            bad = stack.enter_context(ForwardProxy("bad"))
            good = stack.enter_context(ForwardProxy("good"))
            # a dead proxy, a banned one, a good one: every page still arrives through `good`
            proxies = ["http://127.0.0.1:9", bad.url, good.url]
            write_retailer(retailers, slug, shop_url=shop.url, proxies=proxies)
        settings = dataclasses.replace(shop_settings, retailers_dir=str(retailers))
        crawl_hosts.run(settings, retailers, retailers=["acme", "globex"])
    for shop, slug in ((demo_shop, "acme"), (second_shop, "globex")):
        assert _observations(settings, slug) == 12
        tags = Counter(shop.shop.proxied)
        assert tags["good"] == 12 and tags["bad"] >= 1 and tags[""] == 0, (slug, tags)
