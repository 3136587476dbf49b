"""`pricehawk crawl` (one cycle in process, feed the shared queue, or a distributed worker)
and `pricehawk retailers check|sync`."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "crawl",
        help="crawl one cycle in this process; --queue feeds the shared Redis queue;"
        " --distributed runs a worker on it",
    )
    p.add_argument("--retailer", action="append", default=[], help="only these (repeatable)")
    p.add_argument("--cycle-key", default="", help="de-duplication key of this cycle")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--distributed",
        action="store_true",
        help="a worker on the shared Redis queue (scrapy-redis scheduler); exits when the"
        " cluster has no work left",
    )
    mode.add_argument(
        "--queue",
        action="store_true",
        help="push the cycle's start URLs, sitemaps and tracked URLs into Redis, then exit",
    )
    p.add_argument(
        "--linger", type=float, default=0.0, help="worker: seconds to wait for new work when idle"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /metrics, /healthz and /readyz on this port (0: any free port; -1: don't;"
        " default: PRICEHAWK_METRICS_PORT for --distributed workers, none for one cycle)",
    )
    p.add_argument("--worker-id", default="", help="worker: id in Redis (default host-pid-rand)")
    p.set_defaults(func=run)

    r = sub.add_parser("retailers", help="validate or sync the retailer YAML registry")
    r.add_argument("action", choices=("check", "sync"))
    r.set_defaults(func=run_retailers)


def run_retailers(args: argparse.Namespace, settings: Settings) -> int:
    """`check`: validate every file, printing each problem; `sync`: upsert into the database."""
    from pricehawk.retailers import RetailerConfigError, check_all, registry, sync_retailers

    if args.action == "check":
        problems, retailers = check_all(settings.retailers_path, settings.demo_shop_url)
        for problem in problems:
            print(problem, file=sys.stderr)
        for r in retailers:
            state = "" if r.enabled else " (disabled)"
            print(f"ok  {r.source}: {r.slug} ({r.fetch}, {len(r.start_urls)} start URLs){state}")
        return 1 if problems else 0
    from pricehawk import db

    try:
        retailers = registry(settings)
    except RetailerConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    url = db.database_url(settings)
    db.upgrade(url)
    with db.connect(url) as conn:
        ids = sync_retailers(conn, retailers)
        conn.commit()
    print(f"synced {len(ids)} retailers: {', '.join(sorted(ids))}")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk import db
    from pricehawk.retailers import registry, sync_retailers

    url = db.database_url(settings)
    db.upgrade(url)
    retailers = registry(settings)
    with db.connect(url) as conn:
        sync_retailers(conn, retailers)
        conn.commit()
    if args.queue:
        return queue(settings, retailers=args.retailer, cycle_key=args.cycle_key)
    port = metrics_port_for(args.metrics_port, settings.metrics_port, args.distributed)
    if port < 0:
        return _crawl(args, settings, liveness=None)
    from pricehawk import metrics
    from pricehawk.redis_conn import connect_redis

    # /healthz fails once the reactor stops beating (each response and each run-tracker tick
    # beats), so Kubernetes restarts a wedged crawler; /readyz checks PostgreSQL (and Redis,
    # which only distributed workers depend on).
    live = metrics.Liveness()
    pool = db.make_pool(url, min_size=1, max_size=1)
    try:
        metrics.start_metrics_server(
            settings,
            "crawler",
            pool=pool,
            redis=connect_redis(settings) if args.distributed else None,
            liveness=[live],
            port=port,
        )
        return _crawl(args, settings, liveness=live)
    finally:
        pool.close()


def metrics_port_for(requested: int | None, configured: int, distributed: bool) -> int:
    """The metrics port a crawl serves on (-1: none): --metrics-port when given; a long-lived
    distributed worker follows PRICEHAWK_METRICS_PORT; a one-cycle crawl (the demo, the DAG's
    subprocesses, several at once) serves none unless asked, so they never fight over a port."""
    if requested is not None:
        return requested
    return configured if distributed else -1


def _crawl(args: argparse.Namespace, settings: Settings, *, liveness: Any) -> int:
    if args.distributed:
        worker = args.worker_id or _worker_id()
        return crawl_in_process(
            settings,
            retailers=args.retailer,
            cycle_key=args.cycle_key,
            distributed=True,
            worker_id=worker,
            linger_s=args.linger,
            liveness=liveness,
        )
    return crawl_in_process(
        settings, retailers=args.retailer, cycle_key=args.cycle_key, liveness=liveness
    )


def _worker_id() -> str:
    from pricehawk.crawl.queue import new_worker_id

    return new_worker_id(socket.gethostname(), os.getpid())


def queue(settings: Settings, *, retailers: list[str], cycle_key: str) -> int:
    """Feed one cycle of the named (else every enabled) retailer into the shared queue."""
    from pricehawk.crawl import cycle_key_for, queue_cycle
    from pricehawk.retailers import registry

    now = datetime.now(UTC)
    chosen = [r for r in registry(settings) if (r.slug in retailers if retailers else r.enabled)]
    total = 0
    for r in chosen:
        key = cycle_key or cycle_key_for(r.slug, now, r.crawl_interval_s)
        n = queue_cycle(settings, r.slug, key, now=now)
        total += n
        print(f"queued {n} requests for {r.slug} (cycle {key})", flush=True)
    print(f"queued {total} requests", flush=True)
    return 0


def scrapy_settings_for(
    settings: Settings,
    *,
    cycle_key: str,
    distributed: bool = False,
    worker_id: str = "",
    linger_s: float = 0.0,
    browser: bool = False,
    extra: dict[str, Any] | None = None,
) -> Any:
    """Scrapy settings for one crawl: ours, plus the distributed scheduler and the browser
    download handler when asked."""
    from scrapy.settings import Settings as ScrapySettings

    import crawler.settings as crawler_settings

    s = ScrapySettings()
    s.setmodule(crawler_settings)
    s.set("PRICEHAWK_SETTINGS", settings)
    s.set("PRICEHAWK_CYCLE_KEY", cycle_key)
    # Scopes in-process state (the cycle's seen-set, delay slots) to this one crawl, so a
    # process that runs several crawls never carries one crawl's state into the next.
    s.set("PRICEHAWK_CRAWL_ID", uuid.uuid4().hex)
    s.set("USER_AGENT", settings.user_agent)
    # Every request of a retailer goes through its own download slot (meta download_slot):
    # its YAML `concurrency` bounds that slot in each worker.
    from pricehawk.retailers import registry

    s.set("DOWNLOAD_SLOTS", {r.slug: {"concurrency": r.concurrency} for r in registry(settings)})
    s.set("LOG_LEVEL", settings.log_level.upper())
    if distributed:
        s.set("PRICEHAWK_DISTRIBUTED", True)
        s.set("PRICEHAWK_WORKER_ID", worker_id or _worker_id())
        s.set("PRICEHAWK_LINGER_S", linger_s)
        s.set("SCHEDULER", "crawler.scheduler.CycleScheduler")
    if browser:
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        s.set("DOWNLOAD_HANDLERS", {"http": handler, "https": handler})
        s.set(
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"executable_path": chromium_path(), "headless": True, "args": ["--no-sandbox"]},
        )
    for name, value in (extra or {}).items():
        s.set(name, value)
    return s


def chromium_path() -> str:
    """Debian's chromium, by executable path (Playwright never downloads a browser here)."""
    import shutil

    return os.environ.get("PRICEHAWK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _plan(
    settings: Settings,
    *,
    retailers: list[str],
    cycle_key: str,
    distributed: bool,
    worker_id: str,
    linger_s: float,
    extra: dict[str, Any] | None,
    liveness: Any = None,
) -> tuple[Any, list[str], str]:
    """(Scrapy settings, the retailers whose outcome this crawl records, the cycle key)."""
    from pricehawk.retailers import registry

    cycle_key = cycle_key or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    known = registry(settings)
    chosen = [r for r in known if (r.slug in retailers if retailers else r.enabled)]
    browser = any(r.fetch == "browser" for r in (known if distributed else chosen))
    scrapy_settings = scrapy_settings_for(
        settings,
        cycle_key=cycle_key,
        distributed=distributed,
        worker_id=worker_id,
        linger_s=linger_s,
        browser=browser,
        extra=extra,
    )
    scrapy_settings.set("LOG_INSTALL_ROOT_HANDLER", False)
    if liveness is not None:
        # The run tracker calls this on each response and tick. A plain function, because
        # Scrapy deep-copies its settings per crawler: a Liveness object (or its bound method)
        # would be copied and the copy beaten, while /healthz watches the original.
        def beat() -> None:
            liveness.beat()

        scrapy_settings.set("PRICEHAWK_BEAT", beat)
    return scrapy_settings, [r.slug for r in chosen], cycle_key


def _start(runner: Any, *, retailers: list[str], cycle_key: str, distributed: bool) -> list[Any]:
    """Schedule the crawl's spiders on a Scrapy runner; returns their crawlers."""
    names = ("catalog",) if distributed else ("catalog", "tracked")
    crawlers = []
    for name in names:
        c = runner.create_crawler(name)
        runner.crawl(c, retailers=",".join(retailers), cycle_key=cycle_key, distributed=distributed)
        crawlers.append(c)
    return crawlers


def _finish(
    settings: Settings,
    scrapy_settings: Any,
    crawlers: list[Any],
    slugs: list[str],
    cycle_key: str,
    distributed: bool,
) -> int:
    """Summarise a finished crawl, record outcomes (in process) and drop per-crawl state."""
    from crawler.middlewares import forget_local_slots
    from crawler.scheduler import forget_local_seen

    crawl_id = scrapy_settings.get("PRICEHAWK_CRAWL_ID")
    forget_local_seen(crawl_id)
    forget_local_slots(crawl_id)
    stats = [c.stats.get_stats() if c.stats else {} for c in crawlers]
    pages = sum(s.get("response_received_count", 0) for s in stats)
    items = sum(s.get("item_scraped_count", 0) for s in stats)
    print(f"crawl {cycle_key}: pages {pages}, items {items}", flush=True)
    if not distributed:
        record_outcomes(settings, slugs, cycle_key)
    return 0 if all(s.get("finish_reason") == "finished" for s in stats) else 1


def crawl_in_process(
    settings: Settings,
    *,
    retailers: list[str],
    cycle_key: str,
    distributed: bool = False,
    worker_id: str = "",
    linger_s: float = 0.0,
    extra: dict[str, Any] | None = None,
    liveness: Any = None,
) -> int:
    """Run one crawl in this process; the reactor cannot restart, so one call per process
    (`crawl_async` runs any number of crawls inside a reactor that is already running).

    In process: the catalogue and tracked-URL spiders, then each retailer's cycle outcome goes
    to its circuit breaker. Distributed: one worker on the shared queue until it is empty.
    """
    from scrapy.crawler import CrawlerProcess

    scrapy_settings, slugs, cycle_key = _plan(
        settings,
        retailers=retailers,
        cycle_key=cycle_key,
        distributed=distributed,
        worker_id=worker_id,
        linger_s=linger_s,
        extra=extra,
        liveness=liveness,
    )
    process = CrawlerProcess(scrapy_settings)
    crawlers = _start(process, retailers=retailers, cycle_key=cycle_key, distributed=distributed)
    process.start()
    return _finish(settings, scrapy_settings, crawlers, slugs, cycle_key, distributed)


async def crawl_async(
    settings: Settings,
    *,
    retailers: list[str],
    cycle_key: str,
    distributed: bool = False,
    worker_id: str = "",
    linger_s: float = 0.0,
    extra: dict[str, Any] | None = None,
    liveness: Any = None,
) -> int:
    """The same crawl as `crawl_in_process`, inside an asyncio reactor that is already running
    (so one process can run crawl after crawl: the test host, an embedding service)."""
    from scrapy.crawler import AsyncCrawlerRunner

    scrapy_settings, slugs, cycle_key = _plan(
        settings,
        retailers=retailers,
        cycle_key=cycle_key,
        distributed=distributed,
        worker_id=worker_id,
        linger_s=linger_s,
        extra=extra,
        liveness=liveness,
    )
    runner = AsyncCrawlerRunner(scrapy_settings)
    crawlers = _start(runner, retailers=retailers, cycle_key=cycle_key, distributed=distributed)
    await runner.join()
    return _finish(settings, scrapy_settings, crawlers, slugs, cycle_key, distributed)


def record_outcomes(settings: Settings, slugs: list[str], cycle_key: str) -> None:
    """Feed each retailer's cycle result to its circuit breaker."""
    from pricehawk import db
    from pricehawk.crawl import cycle_outcome, record_run_outcome, run_failed

    now = datetime.now(UTC)
    with db.connect(db.database_url(settings)) as conn:
        for slug in slugs:
            outcome = cycle_outcome(conn, slug, cycle_key)
            if outcome is None:
                continue
            failed = run_failed(
                outcome.pages, outcome.items, outcome.blocked, sum(outcome.failures.values())
            )
            record_run_outcome(conn, slug, ok=not failed, now=now)
        conn.commit()
