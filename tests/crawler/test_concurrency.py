"""Per-retailer concurrency holds across workers (Redis leases), and a dead worker's lease
expires."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from pricehawk import db
from pricehawk.crawl.politeness import RetailerLeases
from pricehawk.crawl.queue import alive_key, queue_cycle
from pricehawk.redis_conn import connect_redis
from pricehawk.retailers import registry, sync_retailers
from pricehawk.settings import Settings
from tests.crawler.conftest import CrawlHosts, write_retailer

BEAT = {"PRICEHAWK_HEARTBEAT_S": 0.3}


def _acme_limit_one(shop_settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    retailers = write_retailer(tmp_path / "retailers", concurrency=1)
    settings = dataclasses.replace(shop_settings, retailers_dir=str(retailers))
    with db.connect(settings.database_url) as c:
        sync_retailers(c, registry(settings))
        c.commit()
    return settings, retailers


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _scalar(url: str, sql: str) -> Any:
    with db.connect(url) as c:
        row = c.execute(sql).fetchone()
    assert row is not None
    return next(iter(row.values()))


@pytest.mark.slow
def test_two_workers_never_exceed_the_retailers_limit(
    shop_settings: Settings, demo_shop: Any, crawl_hosts: CrawlHosts, tmp_path: Path
) -> None:
    settings, retailers = _acme_limit_one(shop_settings, tmp_path)
    demo_shop.shop.response_delay_s = 0.2  # b joins while a is still crawling; overlap shows
    # Two requests per worker at most, so the first worker up cannot pop the whole queue:
    # both hold acme requests at once (without leases that is 2 in flight, 1 per worker).
    both = {**BEAT, "CONCURRENT_REQUESTS": 2}
    other = crawl_hosts.spare()
    # a lingers for work and is up (beating) before anything is queued, so it cannot miss it
    lingering = {**both, "PRICEHAWK_LINGER_S": 0.5}
    job_a = other.submit(
        settings, retailers, distributed=True, worker="a", cycle="k1", extra=lingering
    )
    redis = connect_redis(settings)
    _wait_for(lambda: redis.exists(alive_key(settings, "a")))
    assert queue_cycle(settings, "acme", "k1") == 3
    crawl_hosts.run(settings, retailers, distributed=True, worker="b", cycle="k1", extra=both)
    outcome = other.result(job_a)
    assert outcome["rc"] == 0, outcome["log"]
    assert _scalar(settings.database_url, "SELECT count(*) FROM products") == 12
    pages = _scalar(
        settings.database_url,
        "SELECT jsonb_object_agg(worker, n) FROM"
        " (SELECT worker, sum(pages) AS n FROM crawl_runs GROUP BY worker) w",
    )
    assert pages.get("a", 0) > 0 and pages.get("b", 0) > 0, pages  # both were crawling acme
    assert demo_shop.shop.max_in_flight["acme"] == 1  # each alone allows 1: together still 1
    assert RetailerLeases(connect_redis(settings), settings).holders("acme") == []


@pytest.mark.slow
def test_a_killed_workers_lease_expires(
    shop_settings: Settings, demo_shop: Any, crawl_hosts: CrawlHosts, tmp_path: Path
) -> None:
    settings, retailers = _acme_limit_one(shop_settings, tmp_path)
    leases = RetailerLeases(connect_redis(settings), settings)
    demo_shop.shop.response_delay_s = 2.0  # a's first download is still running when it dies
    assert queue_cycle(settings, "acme", "k1") == 3
    a = crawl_hosts.spare()
    short = {**BEAT, "PRICEHAWK_LEASE_TTL_S": 1.5}  # renewed every 0.3 s while a lives
    a.submit(settings, retailers, distributed=True, worker="a", cycle="k1", extra=short)
    _wait_for(lambda: demo_shop.shop.in_flight.get("acme", 0) == 1)
    time.sleep(1.6)  # past one TTL: a live worker's lease is renewed, not lost mid-download
    assert [h[:2] for h in leases.holders("acme")] == ["a:"]
    a.kill()  # SIGKILL mid-download: nothing releases or renews its lease
    held = leases.holders("acme")
    assert len(held) == 1 and held[0].startswith("a:"), held
    assert not leases.acquire("acme", "probe", 1, 1.0)  # the dead worker's lease still counts
    demo_shop.shop.response_delay_s = 0.05
    # b can only download once a's lease has expired; it then crawls the whole cycle
    crawl_hosts.run(settings, retailers, distributed=True, worker="b", cycle="k1", extra=BEAT)
    assert _scalar(settings.database_url, "SELECT count(*) FROM products") == 12
    assert demo_shop.shop.max_in_flight["acme"] == 1
    assert leases.holders("acme") == []
