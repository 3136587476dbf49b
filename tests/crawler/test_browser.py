"""A `fetch: browser` retailer through scrapy-playwright and Debian's chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.metrics import _descendants
from pricehawk import db
from pricehawk.settings import Settings
from tests.conftest import require_tool
from tests.crawler.conftest import CrawlHosts


def _chromium_processes(pid: int) -> list[int]:
    out = []
    for child in _descendants(pid):
        try:
            name = Path(f"/proc/{child}/comm").read_text().strip()
        except OSError:
            continue
        if "chrom" in name:
            out.append(child)
    return out


@pytest.mark.slow
def test_browser_retailer_price_appears_only_after_javascript(
    shop_settings: Settings,
    demo_shop: Any,
    crawl_hosts: CrawlHosts,
    artifacts_dir: Path,
) -> None:
    require_tool("chromium", "/usr/bin/chromium")
    crawl_hosts.run(shop_settings, retailers=["jsmart"], cycle="b1")

    shop = demo_shop.shop
    expected = {f"{demo_shop.url}/jsmart/product/{sku}": shop.price(p)
                for sku, p in shop.js_products.items()}  # fmt: skip
    with db.connect(shop_settings.database_url) as c:
        stored = c.execute(
            """SELECT p.url, o.price, o.currency, o.method FROM price_observations o
               JOIN products p ON p.id = o.product_id"""
        ).fetchall()
        run = c.execute("SELECT items, blocked, failures, stats FROM crawl_runs").fetchone()
    # every price is the one the script wrote (a plain fetch sees an empty price tag)
    assert {r["url"]: r["price"] for r in stored} == expected
    assert {r["currency"] for r in stored} == {"USD"}

    # images, fonts and media were asked for by the pages, and never reached the shop
    assert not [p for p in shop.paths if p.startswith(("/jsmart/img/", "/jsmart/font/",
                                                       "/jsmart/media/"))]  # fmt: skip
    assert run is not None and run["items"] == 6 and run["failures"] == {}
    browser = run["stats"]["browser"]
    for kind in ("image", "font", "media"):
        assert browser.get(f"request_count/resource_type/{kind}", 0) >= 1, (kind, browser)
    assert browser["request_count/aborted"] >= 3 * 6

    # pages and contexts bounded and closed; no browser outlives the crawl
    assert browser["page_count"] == browser["page_count/closed"] == 6
    assert browser["page_count/max_concurrent"] <= 2  # jsmart.yaml: concurrency 2
    assert browser["context_count/max_concurrent"] <= 4
    assert _chromium_processes(crawl_hosts.main.pid) == []

    memory = run["stats"]["memory_max_bytes"]
    assert memory["worker"] > 0 and memory["browser"] > 0
    report = (
        f"browser crawl of {len(expected)} pages: worker RSS max {memory['worker'] / 2**20:.0f}"
        f" MiB, browsers PSS max {memory['browser'] / 2**20:.0f} MiB\n"
    )
    (artifacts_dir / "crawler_browser_memory.txt").write_text(report)
    print(report)
