"""Item pipeline: validate and normalise items, batch-write products and observations, flag
anomalies — all off the reactor.

Writes run in a thread (deferToThread), so the reactor keeps downloading while the database
works. A batch that fails with a connection error stays in memory and is retried with backoff
(for up to PRICEHAWK_DB_RETRY_S), so a database restart mid-crawl loses nothing; the requests
behind a batch are acknowledged (distributed mode) only after it committed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from decimal import Decimal
from typing import Any

import psycopg
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, task, threads

from crawler import metrics
from pricehawk import db
from pricehawk.detection.service import config_for, flag_observations
from pricehawk.prices.models import ScrapedProduct
from pricehawk.prices.queries import store_batch
from pricehawk.redis_conn import connect_redis, key

log = logging.getLogger(__name__)

MAX_PRICE = Decimal("1e10")  # numeric(14, 4)


def normalise(item: ScrapedProduct) -> ScrapedProduct:
    """Clean an item; a price that cannot be right is dropped (health says why), never stored."""
    changes: dict[str, Any] = {}
    if item.title:
        changes["title"] = " ".join(item.title.split())[:500]
    if item.currency:
        changes["currency"] = item.currency.strip().upper()
    if item.gtin:
        digits = "".join(c for c in item.gtin if c.isdigit())
        changes["gtin"] = digits if 8 <= len(digits) <= 14 else None
    cleaned = dataclasses.replace(item, **changes) if changes else item
    if cleaned.health == "ok":
        currency = cleaned.currency or ""
        problem = None
        if cleaned.price is None:
            problem = "no_price"
        elif not (Decimal(0) <= cleaned.price < MAX_PRICE):
            problem = "invalid_price"
        elif len(currency) != 3 or not currency.isalpha():
            problem = "no_currency"
        if problem:
            cleaned = dataclasses.replace(cleaned, health=problem, price=None, list_price=None)
    if cleaned.list_price is not None and not (Decimal(0) <= cleaned.list_price < MAX_PRICE):
        cleaned = dataclasses.replace(cleaned, list_price=None)
    return cleaned


class StorePipeline:
    def __init__(self, crawler: Any, settings: Any, batch_size: int) -> None:
        self.crawler = crawler
        self.settings = settings
        self.batch_size = batch_size
        self.retry_for_s = crawler.settings.getfloat("PRICEHAWK_DB_RETRY_S", 600.0)
        self.flush_every_s = crawler.settings.getfloat("PRICEHAWK_FLUSH_INTERVAL_S", 1.0)
        self.buffer: list[ScrapedProduct] = []
        self.lock = threading.Lock()  # one write at a time keeps batches in order
        self.pending: set[defer.Deferred[Any]] = set()
        self.pool: Any = None
        self.stored = 0
        self.anomalies = 0
        self.ticker: task.LoopingCall | None = None
        self.redis: Any = None  # one client for the crawl, made on the first announcement
        # The detector compares prices across currencies with the deployment's own rates.
        self.detector_config = config_for(settings.currency_rates)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(
            crawler,
            crawler.settings.get("PRICEHAWK_SETTINGS"),
            crawler.settings.getint("PRICEHAWK_BATCH_SIZE", 200),
        )

    def open_spider(self, spider: Any = None) -> None:
        url = db.database_url(self.settings)
        # open=False: a database that is down at start must not stop the crawl; batches wait.
        self.pool = db.make_pool(url, min_size=1, max_size=2)
        self.ticker = task.LoopingCall(self._tick)
        self.ticker.start(self.flush_every_s, now=False)

    def _tick(self) -> None:
        if self.buffer:
            self._flush_later()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, ScrapedProduct):
            item = normalise(item)
            self.buffer.append(item)
            metrics.BUFFERED.set(len(self.buffer))
            if len(self.buffer) >= self.batch_size:
                self._flush_later()
        return item

    def _flush_later(self) -> None:
        batch, self.buffer = self.buffer, []
        metrics.BUFFERED.set(0)
        d = threads.deferToThread(self._write, batch)
        self.pending.add(d)
        d.addCallback(self._acknowledge)
        d.addErrback(self._lost, batch)
        d.addBoth(lambda result: self.pending.discard(d) or result)

    def _acknowledge(self, urls: list[str]) -> None:
        spider = self.crawler.spider
        if spider is not None and hasattr(spider, "ack_stored"):
            spider.ack_stored(urls)

    def _lost(self, failure: Any, batch: list[ScrapedProduct]) -> None:
        # Their requests stay unacknowledged: a distributed worker hands them back on exit,
        # and the next cycle fetches every URL again in any case.
        log.error("gave up storing a batch of %s items: %s", len(batch), failure.value)
        self.crawler.stats.inc_value("pricehawk/items_lost", len(batch))

    def _write(self, batch: list[ScrapedProduct]) -> list[str]:
        """Store one batch and flag its anomalies, retrying through a database restart."""
        deadline = time.monotonic() + self.retry_for_s
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.lock, db.transaction(self.pool) as conn:
                    stored = store_batch(conn, batch)
                    anomaly_ids = flag_observations(conn, stored, config=self.detector_config)
                break
            except (psycopg.OperationalError, psycopg.errors.AdminShutdown) as exc:
                metrics.DB_RETRIES.inc()
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"database unavailable for {self.retry_for_s}s") from exc
                delay = min(5.0, 0.2 * 2**attempt)
                log.warning("database unavailable (attempt %s): %s; retrying", attempt, exc)
                time.sleep(delay)
        self.stored += len(stored)
        self.anomalies += len(anomaly_ids)
        metrics.STORED.inc(len(stored))
        if anomaly_ids:
            self._announce(anomaly_ids)
        return [i.url for i in batch]

    def _announce(self, anomaly_ids: list[int]) -> None:
        # Redis pub/sub is for the Airflow AssetWatcher; the worker hears the NOTIFY.
        try:
            if self.redis is None:
                self.redis = connect_redis(self.settings)
            channel = key(self.settings, "anomalies")
            with self.redis.pipeline(transaction=False) as pipe:  # one round trip per batch
                for anomaly_id in anomaly_ids:
                    pipe.publish(channel, str(anomaly_id))
                pipe.execute()
        except Exception:
            log.warning("could not announce anomalies on Redis", exc_info=True)

    async def close_spider(self, spider: Any = None) -> None:
        if self.ticker is not None and self.ticker.running:
            self.ticker.stop()
        if self.buffer:
            self._flush_later()
        d: defer.Deferred[Any] = defer.DeferredList(list(self.pending), consumeErrors=True)

        def done(_: Any) -> None:
            self.crawler.stats.set_value("pricehawk/stored", self.stored)
            self.crawler.stats.set_value("pricehawk/anomalies", self.anomalies)
            log.info("stored %s observations, flagged %s anomalies", self.stored, self.anomalies)
            if self.pool is not None:
                self.pool.close()
            if self.redis is not None:
                self.redis.close()

        d.addBoth(done)
        await maybe_deferred_to_future(d)
