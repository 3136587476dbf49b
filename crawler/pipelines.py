"""Item pipeline: batch-write products and observations, then flag anomalies.

Writes run in a thread (deferToThread), so the reactor keeps downloading while the
database works. A batch that fails with a connection error stays buffered and is retried,
so a database restart mid-crawl loses nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from twisted.internet import defer, threads

from pricehawk import db
from pricehawk.detection.service import flag_observations
from pricehawk.prices.models import ScrapedProduct
from pricehawk.prices.queries import store_batch
from pricehawk.redis_conn import connect_redis, key

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, settings: Any, batch_size: int) -> None:
        self.settings = settings
        self.batch_size = batch_size
        self.buffer: list[ScrapedProduct] = []
        self.lock = threading.Lock()  # one flush at a time keeps batches in order
        self.pending: list[defer.Deferred[Any]] = []
        self.pool: Any = None
        self.stored = 0
        self.anomalies = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        pipeline = cls(
            crawler.settings.get("PRICEHAWK_SETTINGS"),
            crawler.settings.getint("PRICEHAWK_BATCH_SIZE", 200),
        )
        pipeline.stats = crawler.stats
        return pipeline

    def open_spider(self, spider: Any = None) -> None:
        url = db.database_url(self.settings)
        self.pool = db.make_pool(url, min_size=1, max_size=2)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, ScrapedProduct):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self._flush_later()
        return item

    def _flush_later(self) -> None:
        batch, self.buffer = self.buffer, []
        d = threads.deferToThread(self._write, batch)
        self.pending.append(d)

    def _write(self, batch: list[ScrapedProduct], attempts: int = 5) -> None:
        """Store one batch and flag its anomalies, retrying through a database restart."""
        import time

        for attempt in range(1, attempts + 1):
            try:
                with self.lock, db.transaction(self.pool) as conn:
                    stored = store_batch(conn, batch)
                    anomaly_ids = flag_observations(conn, stored)
                self.stored += len(stored)
                self.anomalies += len(anomaly_ids)
                if anomaly_ids:
                    self._announce(anomaly_ids)
                return
            except psycopg.OperationalError:
                log.warning("database unavailable (attempt %s/%s); retrying", attempt, attempts)
                time.sleep(min(10.0, 0.5 * 2**attempt))
        raise RuntimeError(f"could not store a batch of {len(batch)} items")

    def _announce(self, anomaly_ids: list[int]) -> None:
        # Redis pub/sub is for the Airflow AssetWatcher; the worker hears the NOTIFY.
        try:
            client = connect_redis(self.settings)
            for anomaly_id in anomaly_ids:
                client.publish(key(self.settings, "anomalies"), str(anomaly_id))
        except Exception:  # noqa: BLE001 - the sweeps pick up what was not announced
            log.warning("could not announce anomalies on Redis", exc_info=True)

    def close_spider(self, spider: Any = None) -> defer.Deferred[Any]:
        if self.buffer:
            self._flush_later()
        d: defer.Deferred[Any] = defer.DeferredList(self.pending, fireOnOneErrback=False)

        def done(_: Any) -> None:
            log.info("stored %s observations, flagged %s anomalies", self.stored, self.anomalies)
            if self.pool is not None:
                self.pool.close()

        d.addBoth(done)
        return d
