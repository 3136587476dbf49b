"""End-to-end crawls of the served demo shop (each crawl is its own process)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pricehawk import db
from pricehawk.crawl.queue import queue_cycle, queue_depth
from pricehawk.redis_conn import connect_redis
from pricehawk.settings import Settings
from tests.crawler.conftest import run_crawl, write_retailer


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


@pytest.mark.slow
def test_cycle_fetches_each_page_once_and_again_next_cycle(
    shop_settings: Settings, demo_shop: Any
) -> None:
    run_crawl(shop_settings, retailers=["acme"], cycle="c1")
    first = _product_paths(demo_shop)
    assert len(first) == 12 and set(first.values()) == {1}
    assert _observations(shop_settings) == 12
    run_crawl(shop_settings, retailers=["acme"], cycle="c2")
    assert set(_product_paths(demo_shop).values()) == {2}  # revisited: never de-duplicated across
    with db.connect(shop_settings.database_url) as c:
        runs = c.execute(
            "SELECT cycle_key, pages, items, status FROM crawl_runs ORDER BY id"
        ).fetchall()
    assert [(r["cycle_key"], r["items"], r["status"]) for r in runs] == [
        ("c1", 12, "finished"),
        ("c2", 12, "finished"),
    ]


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
@pytest.mark.parametrize(("status", "crawled"), [(404, True), (503, False)])
def test_robots_txt_4xx_allows_and_5xx_disallows(
    shop_settings: Settings, demo_shop: Any, status: int, crawled: bool
) -> None:
    demo_shop.shop.robots_status = status
    run_crawl(shop_settings, retailers=["acme"])
    assert (_observations(shop_settings) == 12) is crawled
    if not crawled:
        assert not [p for p in demo_shop.shop.paths if p.startswith("/acme/")]
        with db.connect(shop_settings.database_url) as c:
            row = c.execute("SELECT failures FROM crawl_runs").fetchone()
        assert row is not None and row["failures"].get("robots_unreachable", 0) == 3


@pytest.mark.slow
def test_retries_with_backoff_then_stores(shop_settings: Settings, demo_shop: Any) -> None:
    path = "/acme/product/acme-laptops-1"
    demo_shop.shop.fail_first[path] = 2
    run_crawl(shop_settings, retailers=["acme"])
    assert _product_paths(demo_shop)[path] == 3
    assert _observations(shop_settings) == 12


@pytest.mark.slow
def test_block_pages_are_never_prices_and_flag_the_retailer(
    shop_settings: Settings, demo_shop: Any
) -> None:
    run_crawl(shop_settings, retailers=["acme"], cycle="good")
    demo_shop.shop.require_proxy = "nobody"  # every direct request gets a CAPTCHA page (200)
    run_crawl(shop_settings, retailers=["acme"], cycle="blocked")
    assert _observations(shop_settings) == 12  # nothing new stored
    with db.connect(shop_settings.database_url) as c:
        products = c.execute("SELECT last_price, last_fetch_error FROM products").fetchall()
        run = c.execute("SELECT blocked, failures FROM crawl_runs WHERE cycle_key = 'blocked'")
        run_row = run.fetchone()
        retailer = c.execute(
            "SELECT flagged_at, slowdown_factor, block_rate FROM retailers WHERE slug = 'acme'"
        ).fetchone()
    assert all(p["last_price"] is not None for p in products)  # last known good price kept
    assert {p["last_fetch_error"] for p in products} == {"captcha"}
    assert run_row is not None and run_row["blocked"] == 12
    assert run_row["failures"] == {"captcha": 12}
    assert retailer is not None and retailer["flagged_at"] is not None
    assert retailer["block_rate"] == 1.0 and retailer["slowdown_factor"] > 1


@pytest.mark.slow
@pytest.mark.parametrize("ban", ["captcha", "429"])
def test_proxy_failover_through_real_forward_proxies(
    shop_settings: Settings, demo_shop: Any, tmp_path: Path, ban: str
) -> None:
    from sandbox.proxy import ForwardProxy

    demo_shop.shop.require_proxy = "good"
    demo_shop.shop.ban_response = ban
    with ForwardProxy("bad") as bad, ForwardProxy("good") as good:
        # a dead proxy, a banned one, a good one: every page still arrives through `good`
        retailers = write_retailer(
            tmp_path / "retailers", proxies=["http://127.0.0.1:9", bad.url, good.url]
        )
        settings = dataclasses.replace(shop_settings, retailers_dir=str(retailers))
        run_crawl(settings, retailers, retailers=["acme"])
    assert _observations(shop_settings) == 12
    tags = Counter(demo_shop.shop.proxied)
    assert tags["good"] == 12 and tags["bad"] >= 1 and tags[""] == 0
