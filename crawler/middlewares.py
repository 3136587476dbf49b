"""Downloader middlewares: robots.txt (RFC 9309), shared politeness, proxy rotation with ban
detection and failover, retries with exponential backoff, and response metrics.

Thin adapters: every rule is a pure function in pricehawk.crawl.decisions.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler import metrics
from crawler.config import crawl_retailers
from pricehawk.crawl.decisions import (
    BAN_STATUSES,
    RETRY_STATUSES,
    RobotsPolicy,
    backoff_delay,
    next_free_slot,
    parse_retry_after,
    robots_agent_token,
    robots_allows,
    robots_cache_seconds,
    robots_policy,
)
from pricehawk.crawl.politeness import RetailerLeases, get_slowdown, reserve_slot
from pricehawk.redis_conn import connect_redis
from pricehawk.retailers import Retailer

log = logging.getLogger(__name__)


def retailer_of(request: Request) -> str:
    """The retailer slug a request is for ('' for robots.txt and strays)."""
    return str(request.meta.get("retailer") or "")


class RobotsMiddleware:
    """robots.txt per RFC 9309, replacing Scrapy's RobotsTxtMiddleware (which crawls anyway
    when robots.txt answers 5xx or not at all): 2xx parse, 4xx allow, 5xx/unreachable
    disallow everything until it recovers (re-checked every PRICEHAWK_ROBOTS_RECHECK_S)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.agent = robots_agent_token(crawler.settings.get("USER_AGENT", "*"))
        self.recheck_s = crawler.settings.getfloat("PRICEHAWK_ROBOTS_RECHECK_S", 30.0)
        self.cache: dict[str, tuple[RobotsPolicy, str, float]] = {}
        self.pending: dict[str, Deferred[None]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> RobotsMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return None
        parts = urlsplit(request.url)
        netloc = parts.netloc
        entry = self.cache.get(netloc)
        if entry is None or entry[2] <= time.monotonic():
            await self._refresh(parts.scheme, netloc, retailer_of(request))
            entry = self.cache[netloc]
        policy, body, _ = entry
        if robots_allows(policy, body, self.agent, request.url):
            return None
        reason = "robots_unreachable" if policy == "disallow_all" else "robots_disallowed"
        self.crawler.stats.inc_value(f"pricehawk/{reason}")
        metrics.FAILURES.labels(retailer_of(request) or "-", reason).inc()
        raise IgnoreRequest(f"{reason}: {request.url}")

    async def _refresh(self, scheme: str, netloc: str, retailer: str) -> None:
        if netloc in self.pending:
            await maybe_deferred_to_future(self.pending[netloc])
            return
        done: Deferred[None] = Deferred()
        self.pending[netloc] = done
        try:
            robots = Request(
                f"{scheme}://{netloc}/robots.txt",
                meta={
                    "dont_obey_robotstxt": True,
                    "dont_retry": True,
                    "robots": True,
                    "retailer": retailer,  # through the retailer's proxies, like its pages
                },
                priority=1000,
                dont_filter=True,
            )
            status: int | None
            body = ""
            try:
                response = await self.crawler.engine.download_async(robots)
                status = response.status
                if 200 <= status < 300:
                    body = response.text if hasattr(response, "text") else response.body.decode()
            except Exception as exc:  # noqa: BLE001 - any failure to fetch = unreachable
                log.warning("robots.txt of %s unreachable: %s", netloc, exc)
                status = None
            policy = robots_policy(status)
            self.crawler.stats.inc_value(f"pricehawk/robots/{policy}")
            ttl = robots_cache_seconds(policy, recheck_s=self.recheck_s)
            self.cache[netloc] = (policy, body, time.monotonic() + ttl)
        finally:
            del self.pending[netloc]
            done.callback(None)


class _LocalSlots:
    """In-process stand-in for the Redis slot: same rule, one process."""

    def __init__(self) -> None:
        self.next_free: dict[str, float] = {}

    def reserve(self, retailer: str, delay_s: float) -> float:
        wait, self.next_free[retailer] = next_free_slot(
            time.monotonic(), self.next_free.get(retailer, 0.0), delay_s
        )
        return wait


_LOCAL_SLOTS = _LocalSlots()  # shared by the spiders of one crawl (keyed by crawl id)


def forget_local_slots(crawl_id: str) -> None:
    """Drop a finished in-process crawl's delay slots."""
    for slot in [k for k in _LOCAL_SLOTS.next_free if k.startswith(f"{crawl_id}:")]:
        del _LOCAL_SLOTS.next_free[slot]


class PolitenessMiddleware:
    """Waits before each download: the retailer's delay (times its slowdown factor), shared
    by all workers through Redis in distributed mode, and a retry's backoff."""

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings.get("PRICEHAWK_SETTINGS")
        self.settings = settings
        self.retailers: dict[str, Retailer] = crawl_retailers(crawler)
        self.redis = (
            connect_redis(settings) if crawler.settings.getbool("PRICEHAWK_DISTRIBUTED") else None
        )
        self.slowdown: dict[str, float] = {}
        self.slowed_min_delay = crawler.settings.getfloat("PRICEHAWK_SLOWED_MIN_DELAY_S", 0.25)
        self.crawl_id = crawler.settings.get("PRICEHAWK_CRAWL_ID", "")
        crawler.pricehawk_politeness = self

    @classmethod
    def from_crawler(cls, crawler: Any) -> PolitenessMiddleware:
        return cls(crawler)

    def factor(self, retailer: str) -> float:
        """The retailer's current slowdown (Redis in distributed mode, else local)."""
        if self.redis is not None:
            return get_slowdown(self.redis, self.settings, retailer)
        return self.slowdown.get(retailer, 1.0)

    def delay_for(self, retailer: str) -> float:
        """Seconds between two requests to this retailer right now."""
        config = self.retailers.get(retailer)
        base = config.download_delay_s if config else 0.0
        factor = self.factor(retailer)
        if factor > 1.0:
            base = max(base, self.slowed_min_delay)
        return base * factor

    async def process_request(self, request: Request) -> None:
        not_before = float(request.meta.get("not_before", 0.0))
        wait = max(0.0, not_before - time.time())
        retailer = retailer_of(request)
        if retailer and not request.meta.get("robots"):
            # Requests fed through Redis by other producers carry no download_slot; without
            # it they would share the host's slot instead of the retailer's (`concurrency`).
            request.meta.setdefault("download_slot", retailer)
            delay = self.delay_for(retailer)
            if delay > 0:
                slot_wait = (
                    reserve_slot(self.redis, self.settings, retailer, delay)
                    if self.redis is not None
                    else _LOCAL_SLOTS.reserve(f"{self.crawl_id}:{retailer}", delay)
                )
                wait = max(wait, slot_wait)
        if wait > 0:
            await asyncio.sleep(wait)
        request.meta["sent_at"] = time.monotonic()
        return None


class ConcurrencyLeaseMiddleware:
    """Per-retailer `concurrency` across ALL workers (distributed mode only): a download
    needs one of the retailer's Redis leases (`pricehawk.crawl.politeness.RetailerLeases`).
    While the retailer is at its limit the request waits here with asyncio sleeps (the
    reactor keeps running), and the lease goes back when the request leaves the downloader,
    whatever the outcome. Held leases are renewed every heartbeat, so a lease only expires
    when its worker stops beating (killed, or a reactor stalled for a whole TTL).
    In one process Scrapy's own download slot (DOWNLOAD_SLOTS) is the limit."""

    META = "pricehawk_lease"

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.retailers: dict[str, Retailer] = crawl_retailers(crawler)
        self.leases: RetailerLeases | None = None
        if crawler.settings.getbool("PRICEHAWK_DISTRIBUTED"):
            settings = crawler.settings.get("PRICEHAWK_SETTINGS")
            self.leases = RetailerLeases(connect_redis(settings), settings)
        self.beat_s = crawler.settings.getfloat("PRICEHAWK_HEARTBEAT_S", 2.0)
        # default: as long as the worker's own liveness key (5 heartbeats)
        self.ttl_s = crawler.settings.getfloat("PRICEHAWK_LEASE_TTL_S", 0.0) or 5 * self.beat_s
        self.poll_s = crawler.settings.getfloat("PRICEHAWK_LEASE_POLL_S", 0.05)
        worker = crawler.settings.get("PRICEHAWK_WORKER_ID") or "local"
        self.ids = (f"{worker}:{n}" for n in itertools.count(1))
        self.held: dict[str, str] = {}  # lease id -> retailer, released at close at the latest
        self.renewer: Any = None
        if self.leases is not None:
            crawler.signals.connect(self._left, signal=signals.request_left_downloader)
            crawler.signals.connect(self._opened, signal=signals.spider_opened)
            crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ConcurrencyLeaseMiddleware:
        return cls(crawler)

    def limit(self, retailer: str) -> int:
        """The retailer's cluster-wide download limit (its YAML `concurrency`)."""
        config = self.retailers.get(retailer)
        return config.concurrency if config else 1

    async def process_request(self, request: Request) -> None:
        retailer = retailer_of(request)
        if self.leases is None or not retailer or request.meta.get("robots"):
            return None
        # A retry's backoff is waited out before taking a lease, not while holding one.
        not_before = float(request.meta.get("not_before", 0.0))
        if not_before > time.time():
            await asyncio.sleep(not_before - time.time())
        lease = next(self.ids)
        while not self.leases.acquire(retailer, lease, self.limit(retailer), self.ttl_s):
            # jittered, so workers polling one full retailer do not move in lockstep
            await asyncio.sleep(self.poll_s * (0.5 + random.random()))
        self.held[lease] = retailer
        # id(request): a retry's copy of this meta is not the request holding the lease
        request.meta[self.META] = (lease, id(request))
        return None

    def _renew(self) -> None:
        """Push every held lease's expiry one TTL ahead (one round trip per lease)."""
        if self.leases is None:
            return
        for lease, retailer in list(self.held.items()):
            if not self.leases.acquire(retailer, lease, self.limit(retailer), self.ttl_s):
                log.warning("download lease %s for %s expired before renewal", lease, retailer)

    def _release(self, request: Request) -> None:
        held = request.meta.get(self.META)
        if not held or held[1] != id(request):
            return
        del request.meta[self.META]
        retailer = self.held.pop(held[0], None)
        if retailer is not None and self.leases is not None:
            self.leases.release(retailer, held[0])

    def _left(self, request: Request, spider: Any = None) -> None:
        self._release(request)

    def _opened(self, spider: Any = None) -> None:
        from twisted.internet.task import LoopingCall

        self.renewer = LoopingCall(self._renew)
        self.renewer.start(self.beat_s, now=False)

    def _closed(self, spider: Any = None) -> None:
        if self.renewer is not None and self.renewer.running:
            self.renewer.stop()
        if self.leases is not None:
            for lease, retailer in list(self.held.items()):
                self.leases.release(retailer, lease)
        self.held.clear()

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)  # a later middleware answered without downloading
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)  # e.g. IgnoreRequest from a later middleware
        return None


@dataclass
class ProxyPool:
    """One retailer's proxies: round robin over those not benched."""

    proxies: tuple[str, ...]
    benched_until: dict[str, float] = field(default_factory=dict)
    cursor: int = 0

    def choose(self, exclude: set[str], now: float) -> str | None:
        """The next usable proxy not yet tried for this request (None: none left)."""
        n = len(self.proxies)
        for i in range(n):
            proxy = self.proxies[(self.cursor + i) % n]
            if proxy in exclude or self.benched_until.get(proxy, 0.0) > now:
                continue
            self.cursor = (self.cursor + i + 1) % n
            return proxy
        return None

    def bench(self, proxy: str, seconds: float, now: float) -> None:
        """Rest a proxy that was banned (403/429/block page) or failed to connect."""
        self.benched_until[proxy] = max(self.benched_until.get(proxy, 0.0), now + seconds)


class ProxyMiddleware:
    """Rotate each retailer's proxies; on a ban signal bench the proxy and fail over to the
    next one at once (the retry middleware handles what is left)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.pools = {
            s: ProxyPool(r.proxies) for s, r in crawl_retailers(crawler).items() if r.proxies
        }
        self.bench_s = crawler.settings.getfloat("PRICEHAWK_PROXY_BENCH_S", 300.0)
        crawler.pricehawk_proxies = self

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProxyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        pool = self.pools.get(retailer_of(request))
        if pool is None:
            return None
        tried = set(request.meta.get("proxies_tried", ()))
        proxy = pool.choose(tried, time.monotonic())
        if proxy is None:
            # Every proxy tried or benched: use the one that comes back soonest.
            proxy = min(pool.proxies, key=lambda p: pool.benched_until.get(p, 0.0))
        request.meta["proxy"] = proxy
        return None

    def ban(self, request: Request, seconds: float | None = None) -> Request | None:
        """Bench the request's proxy; a copy of the request for the next proxy, if any left."""
        retailer = retailer_of(request)
        pool = self.pools.get(retailer)
        proxy = request.meta.get("proxy")
        if pool is None or not proxy:
            return None
        now = time.monotonic()
        pool.bench(proxy, seconds if seconds is not None else self.bench_s, now)
        metrics.PROXY_BANS.labels(retailer).inc()
        self.crawler.stats.inc_value("pricehawk/proxy/banned")
        tried = [*request.meta.get("proxies_tried", ()), proxy]
        if pool.choose(set(tried), now) is None:
            return None
        meta = {k: v for k, v in request.meta.items() if k != "proxy"}
        meta["proxies_tried"] = tried
        self.crawler.stats.inc_value("pricehawk/proxy/failover")
        return request.replace(meta=meta, dont_filter=True)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if (
            response.status in BAN_STATUSES
            and request.meta.get("proxy")
            and not request.meta.get("robots")
        ):
            retry_after = parse_retry_after(
                response.headers.get("Retry-After", b"").decode("latin-1"), datetime.now(UTC)
            )
            failover = self.ban(request, retry_after)
            if failover is not None:
                return failover
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if request.meta.get("proxy") and not isinstance(exception, IgnoreRequest):
            return self.ban(request)
        return None


class BackoffRetryMiddleware:
    """Scrapy's RetryMiddleware retries at once; this one waits base * 2^n (honouring
    Retry-After) through the politeness middleware's `not_before`."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.max_retries = crawler.settings.getint("RETRY_TIMES", 2)
        self.base_s = crawler.settings.getfloat("PRICEHAWK_RETRY_BASE_S", 1.0)
        self.cap_s = crawler.settings.getfloat("PRICEHAWK_RETRY_CAP_S", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BackoffRetryMiddleware:
        return cls(crawler)

    def _retry(self, request: Request, reason: str, retry_after: float | None) -> Request | None:
        attempt = int(request.meta.get("retry_times", 0)) + 1
        retailer = retailer_of(request) or "-"
        if request.meta.get("dont_retry") or attempt > self.max_retries:
            self.crawler.stats.inc_value("retry/max_reached")
            return None
        delay = backoff_delay(
            attempt, base_s=self.base_s, cap_s=self.cap_s, retry_after_s=retry_after
        )
        self.crawler.stats.inc_value("retry/count")
        self.crawler.stats.inc_value(f"retry/reason_count/{reason}")
        log.info("retry %s of %s in %.2fs (%s)", attempt, request.url, delay, reason)
        meta = {**request.meta, "retry_times": attempt, "not_before": time.time() + delay}
        meta.pop("proxies_tried", None)
        metrics.FAILURES.labels(retailer, f"retry_{reason}").inc()
        return request.replace(meta=meta, dont_filter=True, priority=request.priority - 1)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in RETRY_STATUSES:
            retry_after = parse_retry_after(
                response.headers.get("Retry-After", b"").decode("latin-1"), datetime.now(UTC)
            )
            retry = self._retry(request, f"http_{response.status}", retry_after)
            if retry is not None:
                return retry
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if isinstance(exception, IgnoreRequest):
            return None
        return self._retry(request, type(exception).__name__, None)


class MetricsMiddleware:
    """Counts responses and latency per retailer (closest to the downloader)."""

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("robots"):
            return response
        retailer = retailer_of(request) or "-"
        metrics.PAGES.labels(retailer, str(response.status)).inc()
        sent = request.meta.get("sent_at")
        if sent is not None:
            metrics.LATENCY.labels(retailer).observe(max(0.0, time.monotonic() - sent))
        return response
