"""Crawl scheduling: which retailers are due, the per-retailer circuit breaker, and queueing
a retailer's cycle (start URLs plus its due tracked URLs) for the crawler workers.

The breaker is derived from `crawl_runs` (the newest runs' outcomes), so evaluating it twice
gives the same answer. A retailer's cycle is claimed by moving `last_crawl_at` forward in the
same transaction that queues its URLs: a retried or re-run task finds it no longer due and
queues nothing twice.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pricehawk.db import transaction
from pricehawk.redis_conn import connect_redis, key
from pricehawk.retailers import Retailer, registry, sync_retailers
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

BREAKER_FAILURES = 3  # consecutive failed runs that open a retailer's breaker
BREAKER_COOLDOWN = timedelta(hours=1)  # how long it stays open before one trial run
RECENT_RUNS = 20


# --- pure decisions -------------------------------------------------------------------------


def is_due(last_crawl_at: datetime | None, interval_s: int, now: datetime) -> bool:
    """Whether a retailer's next cycle is due (never crawled counts as due)."""
    return last_crawl_at is None or now - last_crawl_at >= timedelta(seconds=interval_s)


def consecutive_failures(statuses_newest_first: Sequence[str]) -> int:
    """Failed runs since the last finished one ('running' runs are not outcomes yet)."""
    count = 0
    for status in statuses_newest_first:
        if status == "finished":
            break
        if status == "failed":
            count += 1
    return count


@dataclass(frozen=True)
class Decision:
    crawl: bool
    state: str  # closed | open | half_open
    failed_runs: int
    retry_at: datetime | None
    reason: str


def decide(
    state: str,
    recorded_failures: int,
    retry_at: datetime | None,
    failures: int,
    now: datetime,
    *,
    threshold: int = BREAKER_FAILURES,
    cooldown: timedelta = BREAKER_COOLDOWN,
) -> Decision:
    """The breaker's next state and whether to crawl (due-ness aside).

    `recorded_failures` is what the breaker saw last time; `failures` is what crawl_runs says
    now. Below the threshold the breaker is closed. At it, a closed breaker opens for
    `cooldown`; an open one lets one trial run through once the cooldown is over (half-open);
    a half-open one re-opens when the trial failed and waits while the trial is pending.
    """
    if failures < threshold:
        return Decision(True, "closed", failures, None, "ok")
    if state == "closed":
        until = now + cooldown
        return Decision(False, "open", failures, until, f"{failures} failed runs in a row")
    if state == "open":
        if retry_at is not None and now < retry_at:
            return Decision(False, "open", failures, retry_at, f"open until {retry_at:%H:%M}")
        return Decision(True, "half_open", failures, None, "trial run after cooldown")
    # half_open: the trial has not succeeded (that would have reset failures).
    if failures > recorded_failures:
        until = now + cooldown
        return Decision(False, "open", failures, until, "trial run failed")
    return Decision(False, "half_open", failures, None, "waiting for the trial run")


def cycle_key(slug: str, claimed_at: datetime) -> str:
    """The de-duplication key of one retailer's cycle (the crawler's dupefilter uses it)."""
    return f"{slug}:{claimed_at.astimezone(UTC):%Y%m%dT%H%M%S}"


# --- database and queue ----------------------------------------------------------------------


def _retailer_rows(conn: Any) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT r.id, r.slug, r.paused, r.crawl_interval_s, r.last_crawl_at,
                  r.circuit_state, r.failed_runs, r.circuit_retry_at,
                  coalesce((SELECT array_agg(status ORDER BY started_at DESC)
                              FROM (SELECT status, started_at FROM crawl_runs c
                                     WHERE c.retailer_id = r.id
                                     ORDER BY started_at DESC LIMIT %s) recent),
                           '{}') AS statuses
             FROM retailers r ORDER BY r.slug""",
        (RECENT_RUNS,),
    ).fetchall()
    return [dict(r) for r in rows]


def due_retailers(pool: Any, settings: Settings, now: datetime | None = None) -> list[str]:
    """Sync the registry, update every breaker, and return the slugs due for a cycle.

    Paused retailers, and those whose breaker is open, are skipped.
    """
    now = now or datetime.now(UTC)
    retailers = registry(settings)
    configured = {r.slug for r in retailers}
    due: list[str] = []
    with transaction(pool) as conn:
        sync_retailers(conn, retailers)
        for row in _retailer_rows(conn):
            if row["slug"] not in configured or row["paused"]:
                continue
            d = decide(
                row["circuit_state"],
                row["failed_runs"],
                row["circuit_retry_at"],
                consecutive_failures(row["statuses"]),
                now,
            )
            if (d.state, d.failed_runs, d.retry_at) != (
                row["circuit_state"], row["failed_runs"], row["circuit_retry_at"],
            ):  # fmt: skip
                conn.execute(
                    """UPDATE retailers SET circuit_state = %s, failed_runs = %s,
                              circuit_retry_at = %s, updated_at = now() WHERE id = %s""",
                    (d.state, d.failed_runs, d.retry_at, row["id"]),
                )
                log.info("retailer %s: breaker %s (%s)", row["slug"], d.state, d.reason)
            if d.crawl and (
                d.state == "half_open" or is_due(row["last_crawl_at"], row["crawl_interval_s"], now)
            ):
                due.append(row["slug"])
    return due


def _due_tracked_urls(conn: Any, retailer_id: int, interval_s: int, now: datetime) -> list[str]:
    rows = conn.execute(
        """SELECT DISTINCT p.url FROM products p
             JOIN tracked_products t ON t.product_id = p.id AND NOT t.paused
            WHERE p.retailer_id = %s
              AND (p.last_fetch_at IS NULL OR p.last_fetch_at <= %s)
            ORDER BY p.url""",
        (retailer_id, now - timedelta(seconds=interval_s)),
    ).fetchall()
    return [r["url"] if isinstance(r, dict) else r[0] for r in rows]


def crawl_queue_key(settings: Settings) -> str:
    """The Redis list the distributed crawler workers pop requests from."""
    return key(settings, "crawl", "requests")


@dataclass(frozen=True)
class QueuedCycle:
    retailer: str
    cycle_key: str | None
    start_urls: int = 0
    tracked_urls: int = 0
    reason: str = ""


def _claim(conn: Any, slug: str, now: datetime, force: bool) -> dict[str, Any] | None:
    # Moving last_crawl_at forward is the claim: only one caller wins a cycle.
    row = conn.execute(
        """UPDATE retailers SET last_crawl_at = %s
            WHERE slug = %s AND NOT paused
              AND (%s OR last_crawl_at IS NULL
                   OR last_crawl_at <= %s - make_interval(secs => crawl_interval_s))
        RETURNING id, crawl_interval_s""",
        (now, slug, force, now),
    ).fetchone()
    return dict(row) if row else None


def queue_cycle(
    pool: Any, settings: Settings, slug: str, now: datetime | None = None, *, force: bool = False
) -> QueuedCycle:
    """Claim the retailer's cycle and queue its start URLs and due tracked URLs in Redis."""
    now = now or datetime.now(UTC)
    retailer = _retailer(settings, slug)
    client = connect_redis(settings)
    with transaction(pool) as conn:
        claimed = _claim(conn, slug, now, force)
        if claimed is None:
            return QueuedCycle(slug, None, reason="not due (already claimed, or paused)")
        ckey = cycle_key(slug, now)
        tracked = _due_tracked_urls(conn, claimed["id"], claimed["crawl_interval_s"], now)
        payloads = [
            json.dumps({"url": u, "meta": {"retailer": slug, "cycle_key": ckey, "kind": kind}})
            for kind, urls in (("listing", retailer.start_urls), ("product", tracked))
            for u in urls
        ]
        # Pushed before the claim commits: if Redis fails, the claim rolls back and a retry
        # queues the cycle; MULTI makes the push all-or-nothing.
        pipe = client.pipeline(transaction=True)
        if payloads:
            pipe.rpush(crawl_queue_key(settings), *payloads)
        pipe.execute()
    return QueuedCycle(slug, ckey, len(retailer.start_urls), len(tracked))


def crawl_cycle_in_process(
    pool: Any, settings: Settings, slug: str, now: datetime | None = None
) -> QueuedCycle:
    """Claim the cycle and run it here (no crawler workers), recording the run's outcome."""
    now = now or datetime.now(UTC)
    with transaction(pool) as conn:
        claimed = _claim(conn, slug, now, False)
    if claimed is None:
        return QueuedCycle(slug, None, reason="not due (already claimed, or paused)")
    ckey = cycle_key(slug, now)
    with transaction(pool) as conn:
        row = conn.execute(
            """INSERT INTO crawl_runs (retailer_id, spider, cycle_key, worker)
               VALUES (%s, 'catalog', %s, 'airflow') RETURNING id""",
            (claimed["id"], ckey),
        ).fetchone()
    assert row is not None
    run_id = row["id"]
    # Twisted's reactor cannot restart in one process: each cycle is its own subprocess.
    proc = subprocess.run(
        [sys.executable, "-m", "pricehawk.cli.main", "crawl", "--retailer", slug,
         "--cycle-key", ckey],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    status = "finished" if proc.returncode == 0 else "failed"
    with transaction(pool) as conn:
        conn.execute(
            """UPDATE crawl_runs SET status = %s, finished_at = now(), failures = %s
                WHERE id = %s""",
            (status, json.dumps({"exit": proc.returncode, "stderr": proc.stderr[-1000:]}), run_id),
        )
        if status == "finished":
            conn.execute("UPDATE retailers SET last_success_at = now() WHERE slug = %s", (slug,))
    if status == "failed":
        raise RuntimeError(f"crawl of {slug} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return QueuedCycle(slug, ckey, reason="crawled in process")


def _retailer(settings: Settings, slug: str) -> Retailer:
    for r in registry(settings):
        if r.slug == slug:
            return r
    raise KeyError(f"no retailer {slug!r} in {settings.retailers_path}")
