"""The run tracker: crawl_runs rows, scrape-health slowdown, worker heartbeat, and when a
distributed worker may close.

A distributed worker closes when the shared queue is empty and no other live worker holds
in-flight requests (they might still discover pages), after lingering PRICEHAWK_LINGER_S for
new work. scrapy-redis's RedisSpider never closes by itself; this one does.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from twisted.internet import task

from crawler import metrics
from pricehawk import db
from pricehawk.crawl.decisions import block_rate_action
from pricehawk.crawl.politeness import set_slowdown
from pricehawk.crawl.queries import finish_run, record_block_rate, start_run
from pricehawk.crawl.queue import (
    heartbeat,
    others_in_flight,
    queue_depth,
    reap_dead_workers,
    retire,
)
from pricehawk.redis_conn import connect_redis

log = logging.getLogger(__name__)


class RunTracker:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        s = crawler.settings
        self.settings = s.get("PRICEHAWK_SETTINGS")
        self.distributed = s.getbool("PRICEHAWK_DISTRIBUTED")
        self.worker = s.get("PRICEHAWK_WORKER_ID") or "local"
        self.linger_s = s.getfloat("PRICEHAWK_LINGER_S", 0.0)
        self.beat_s = s.getfloat("PRICEHAWK_HEARTBEAT_S", 2.0)
        self.threshold = s.getfloat("PRICEHAWK_BLOCK_RATE_THRESHOLD", 0.3)
        self.min_pages = s.getint("PRICEHAWK_BLOCK_RATE_MIN_PAGES", 10)
        self.redis = connect_redis(self.settings) if self.distributed else None
        self.idle_since: float | None = None
        self.loop: task.LoopingCall | None = None
        self.evaluated: dict[str, tuple[int, int]] = {}
        self.factors: dict[str, float] = {}
        self.flagged: dict[str, bool] = {}
        # Resident memory maxima (this worker, its browsers), for crawl_runs and the log.
        self.memory_max = (0, 0)
        self.sampled_at = 0.0
        # `pricehawk crawl`'s /healthz: silent when the reactor is wedged (no responses, no ticks)
        self.beat = s.get("PRICEHAWK_BEAT")

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunTracker:
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def sample_memory(self) -> None:
        """Export this worker's and its browsers' RSS and keep the maxima."""
        self.sampled_at = time.monotonic()
        own, browsers = metrics.sample_memory()
        self.memory_max = (max(self.memory_max[0], own), max(self.memory_max[1], browsers))

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        if self.beat is not None:
            self.beat()
        # Browsers live only while pages load; a beat-long sampling period can miss them all.
        if request.meta.get("playwright") and time.monotonic() - self.sampled_at >= 0.5:
            self.sample_memory()

    def opened(self, spider: Any) -> None:
        self.loop = task.LoopingCall(self.tick, spider)
        self.loop.start(self.beat_s, now=True)

    def tick(self, spider: Any) -> None:
        """Heartbeat, dead-worker recovery, gauges, and the block-rate check."""
        if self.beat is not None:
            self.beat()
        try:
            if self.redis is not None:
                heartbeat(self.redis, self.settings, self.worker, ttl_s=int(self.beat_s * 5) + 1)
                requeued = reap_dead_workers(self.redis, self.settings)
                if requeued:
                    metrics.REQUEUED.inc(requeued)
                depth = queue_depth(self.redis, self.settings)
                metrics.QUEUE_DEPTH.set(depth)
                if depth:
                    self.wake()
                if spider.inflight is not None:
                    metrics.IN_FLIGHT.set(len(spider.inflight))
            self.sample_memory()
            self.check_block_rate(spider)
        except Exception:  # a Redis hiccup must not kill the crawl; next tick retries
            log.warning("run tracker tick failed", exc_info=True)

    def wake(self) -> None:
        """Ask the engine for its next request now, not at its next 5 s heartbeat: an idle
        worker picks up requeued or newly queued work within one beat. (Scrapy has no public
        call for this; should the attribute move, the heartbeat still comes.)"""
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def check_block_rate(self, spider: Any) -> None:
        """Slow a retailer down (and flag it) while its block rate is over the threshold."""
        totals: dict[str, Counter[str]] = {}
        for (slug, _cycle), counter in spider.counters.items():
            totals.setdefault(slug, Counter()).update(counter)
        politeness = getattr(self.crawler, "pricehawk_politeness", None)
        for slug, counter in totals.items():
            items, blocked = counter["items"], counter["blocked"]
            seen_items, seen_blocked = self.evaluated.get(slug, (0, 0))
            window_items, window_blocked = items - seen_items, blocked - seen_blocked
            if window_items < self.min_pages:
                continue
            self.evaluated[slug] = (items, blocked)
            factor, flagged = block_rate_action(
                window_blocked,
                window_items,
                threshold=self.threshold,
                min_pages=self.min_pages,
                factor=self.factors.get(slug, 1.0),
            )
            if factor != self.factors.get(slug, 1.0):
                log.warning(
                    "%s: block rate %.0f%%, slowdown x%s",
                    slug,
                    100 * window_blocked / window_items,
                    factor,
                )
            self.factors[slug], self.flagged[slug] = factor, flagged
            metrics.BLOCK_RATE.labels(slug).set(window_blocked / window_items)
            metrics.SLOWDOWN.labels(slug).set(factor)
            if politeness is not None:
                politeness.slowdown[slug] = factor
            if self.redis is not None:
                set_slowdown(self.redis, self.settings, slug, factor)

    def idle(self, spider: Any) -> None:
        """Distributed: stay open while the cluster still has work for this cycle."""
        if self.redis is None:
            return
        requeued = reap_dead_workers(self.redis, self.settings)
        if requeued:
            metrics.REQUEUED.inc(requeued)
        busy = queue_depth(self.redis, self.settings) > 0
        busy = busy or others_in_flight(self.redis, self.settings, self.worker) > 0
        if busy:
            self.idle_since = None
            raise DontCloseSpider("the shared queue still has work")
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.linger_s:
            raise DontCloseSpider("lingering for new work")

    def closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.check_block_rate(spider)
        if self.redis is not None:
            returned = retire(self.redis, self.settings, self.worker)
            if returned:
                log.warning("handed %s unfinished requests back to the queue", returned)
        self.write_runs(spider, reason)

    def write_runs(self, spider: Any, reason: str) -> None:
        """One crawl_runs row per retailer and cycle this worker touched."""
        status = "finished" if reason == "finished" else "failed"
        worker_rss, browser_rss = self.memory_max
        scrapy_stats = self.crawler.stats.get_stats()
        # scrapy-playwright's own counters: pages and contexts opened vs closed, aborted loads
        browser = {
            name.removeprefix("playwright/"): value
            for name, value in scrapy_stats.items()
            if name.startswith("playwright/") and isinstance(value, int)
        }
        log.info(
            "%s: memory max: worker %.0f MiB, browsers %.0f MiB",
            self.worker,
            worker_rss / 2**20,
            browser_rss / 2**20,
        )
        try:
            with db.connect(db.database_url(self.settings)) as conn:
                for (slug, cycle), counter in spider.counters.items():
                    failures = {
                        name.split(":", 1)[1]: n
                        for name, n in counter.items()
                        if name.startswith("failure:")
                    }
                    run_id = start_run(conn, slug, spider.name, cycle, self.worker)
                    finish_run(
                        conn,
                        run_id,
                        status=status,
                        pages=counter["pages"],
                        items=counter["items"],
                        blocked=counter["blocked"],
                        failures=failures,
                        stats={
                            "started_at": spider.started_at.isoformat(),
                            "reason": reason,
                            "slowdown": self.factors.get(slug, 1.0),
                            "memory_max_bytes": {"worker": worker_rss, "browser": browser_rss},
                            **({"browser": browser} if browser else {}),
                        },
                    )
                    items = counter["items"]
                    if items:
                        record_block_rate(
                            conn,
                            slug,
                            rate=counter["blocked"] / items,
                            factor=self.factors.get(slug, 1.0),
                            flagged=self.flagged.get(slug, False),
                            reason=f"block rate over {self.threshold:.0%} at "
                            f"{datetime.now(UTC):%Y-%m-%d %H:%M}Z",
                        )
                conn.commit()
        except Exception:  # the crawl's items are stored; only the run summary is lost
            log.exception("could not record crawl runs")
