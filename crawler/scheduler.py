"""Per-cycle de-duplication and the shared Redis queue with in-flight tracking.

`CycleDupeFilter` keys "seen" by (cycle, canonical URL): the same page is fetched once per
cycle and again next cycle. In-process it is a set shared by every spider of the process; in
distributed mode it is the cycle's Redis set, the same one `pricehawk.crawl.queue_cycle` fills.

`CycleScheduler` is scrapy-redis's scheduler with three changes (scrapy-redis 0.9.1 traps,
DESIGN.md): it never flushes the shared queue when a worker closes; each pop moves the request
into the worker's in-flight list (LMOVE, atomic) instead of deleting it, and the spider or the
pipeline acknowledges it once its result is stored; requests are JSON, not pickle.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.dupefilters import BaseDupeFilter
from scrapy.http import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import Base
from scrapy_redis.scheduler import Scheduler

from crawler import serializer
from pricehawk.crawl.decisions import canonical_url
from pricehawk.crawl.queue import (
    SEEN_TTL_S,
    encode_request,
    inflight_key,
    queue_key,
    seen_key,
)
from pricehawk.redis_conn import connect_redis

log = logging.getLogger(__name__)

ACK = "_ph_ack"  # request.meta key holding the queue payload this request came from

# In-process: the spiders of one crawl (PRICEHAWK_CRAWL_ID) share one seen-set per cycle.
_LOCAL_SEEN: dict[tuple[str, str], set[str]] = {}


def forget_local_seen(crawl_id: str) -> None:
    """Drop a finished in-process crawl's seen-sets."""
    for scope in [k for k in _LOCAL_SEEN if k[0] == crawl_id]:
        del _LOCAL_SEEN[scope]


class CycleDupeFilter(BaseDupeFilter):
    """Seen = (cycle, canonical URL); Redis-backed when the crawl is distributed."""

    def __init__(
        self, settings: Any, default_cycle: str, server: Any = None, crawl_id: str = ""
    ) -> None:
        self.settings = settings
        self.default_cycle = default_cycle
        self.server = server
        self.crawl_id = crawl_id
        self._expiring: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> CycleDupeFilter:
        return cls._build(crawler.settings)

    @classmethod
    def from_spider(cls, spider: Any) -> CycleDupeFilter:
        return cls._build(spider.settings)

    @classmethod
    def _build(cls, scrapy_settings: Any) -> CycleDupeFilter:
        settings = scrapy_settings.get("PRICEHAWK_SETTINGS")
        server = None
        if scrapy_settings.getbool("PRICEHAWK_DISTRIBUTED"):
            server = connect_redis(settings)
        return cls(
            settings,
            scrapy_settings.get("PRICEHAWK_CYCLE_KEY", ""),
            server,
            scrapy_settings.get("PRICEHAWK_CRAWL_ID", ""),
        )

    def request_seen(self, request: Request) -> bool:
        cycle = request.meta.get("cycle") or self.default_cycle
        url = canonical_url(request.url)
        if request.method != "GET":
            url = f"{request.method} {url}"
        if self.server is None:
            seen = _LOCAL_SEEN.setdefault((self.crawl_id, cycle), set())
            if url in seen:
                return True
            seen.add(url)
            return False
        name = seen_key(self.settings, cycle)
        added = self.server.sadd(name, url)
        if name not in self._expiring:
            self.server.expire(name, SEEN_TTL_S)
            self._expiring.add(name)
        return not added

    def log(self, request: Request, spider: Any = None) -> None:
        log.debug("already fetched in this cycle: %s", request.url)


class InFlight:
    """Acknowledges requests a worker popped: once acked, a dead worker's requeue skips them."""

    def __init__(self, server: Any, key: str) -> None:
        self.server = server
        self.key = key

    def ack(self, payload: str | None) -> None:
        """Drop one finished request from this worker's in-flight list."""
        if payload:
            self.server.lrem(self.key, 1, payload)

    def __len__(self) -> int:
        return int(self.server.llen(self.key))


class InFlightQueue(Base):
    """FIFO list; pop = LMOVE into the worker's in-flight list."""

    inflight_key: str = ""

    def __len__(self) -> int:
        return int(self.server.llen(self.key))

    def push(self, request: Request) -> None:
        self.server.rpush(self.key, self._encode_request(request))

    def pop(self, timeout: int = 0) -> Request | None:
        payload = self.server.lmove(self.key, self.inflight_key, "LEFT", "RIGHT")
        if payload is None:
            return None
        try:
            request = request_from_dict(serializer.loads(payload), spider=self.spider)
        except Exception:  # a malformed entry must not stop the worker; it is dropped
            log.exception("dropping an unreadable queued request: %r", payload[:200])
            self.server.lrem(self.inflight_key, 1, payload)
            return None
        request.meta[ACK] = payload.decode() if isinstance(payload, bytes) else payload
        return request

    def clear(self) -> None:
        # Never: the queue is shared by every worker (scrapy-redis would DEL it on close).
        pass


class CycleScheduler(Scheduler):
    """scrapy-redis's scheduler, never flushing, with in-flight tracking per worker."""

    worker: str = ""

    @classmethod
    def from_crawler(cls, crawler: Any) -> CycleScheduler:
        settings = crawler.settings.get("PRICEHAWK_SETTINGS")
        server = connect_redis(settings)
        server.ping()
        instance = cls(
            server=server,
            persist=True,
            queue_key=queue_key(settings),
            queue_cls="crawler.scheduler.InFlightQueue",
            dupefilter=CycleDupeFilter(
                settings, crawler.settings.get("PRICEHAWK_CYCLE_KEY", ""), server
            ),
            serializer=serializer,
        )
        instance.stats = crawler.stats
        instance.worker = crawler.settings.get("PRICEHAWK_WORKER_ID")
        instance.settings_ph = settings
        return instance

    def open(self, spider: Any) -> None:
        super().open(spider)
        self.queue.inflight_key = inflight_key(self.settings_ph, self.worker)
        spider.inflight = InFlight(self.server, self.queue.inflight_key)

    def close(self, reason: str) -> None:
        # persist=True already; stated again because flushing here would wipe every
        # other worker's queue (scrapy-redis 0.9.1 with SCHEDULER_PERSIST=False).
        return None

    def has_pending_requests(self) -> bool:
        return len(self) > 0

    def enqueue_request(self, request: Request) -> bool:
        payload = request.meta.pop(ACK, None)
        if payload is not None:
            # A retry, failover or redirect of a popped request: once the new request is
            # safely in the queue, the old one is done.
            queued = super().enqueue_request(request)
            self.spider.inflight.ack(payload)
            return bool(queued)
        return bool(super().enqueue_request(request))


def encode(request: Request, spider: Any) -> str:
    """A request as the queue stores it (tests and benchmarks feed the queue with this)."""
    return encode_request(request.to_dict(spider=spider))
