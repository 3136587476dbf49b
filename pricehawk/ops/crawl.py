"""What the crawl DAG runs: which retailers are due, and one retailer's cycle.

Every rule lives in `pricehawk.crawl` (the crawl engineer's contract, docs/crawling.md); this
module only orders the calls for a scheduled task:

* `due_slugs`: sync the registry, then `crawl.due_retailers` (interval elapsed, not paused,
  circuit closed or open past its retry time), keeping the retailers enabled in the registry.
* `run_cycle`, distributed (PRICEHAWK_CRAWL_MODE=distributed): judge the retailer's previous
  cycle from the workers' `crawl_runs` (`cycle_outcome` -> `run_failed` ->
  `record_run_outcome`, the circuit breaker), record the new cycle as started, then
  `crawl.queue_cycle` pushes its start URLs, sitemaps and tracked URLs into the queue the
  `pricehawk crawl --distributed` workers pop from.
* `run_cycle`, in process (no workers): record the cycle as started and run
  `pricehawk crawl --retailer X --cycle-key K` in a subprocess (the reactor cannot restart);
  that command feeds the breaker itself.

Idempotent, keyed by retailer and cycle: the cycle key is stable within the retailer's
interval, the judgement of a cycle happens in the same transaction that moves
`last_crawl_at` past it (so it is judged once), `queue_cycle` de-duplicates within the cycle,
and an in-process cycle that already has runs is not crawled again.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pricehawk.crawl import cycle_key_for, cycle_outcome, record_run_outcome, run_failed
from pricehawk.crawl.queries import due_retailers, mark_queued
from pricehawk.db import transaction
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

# An in-process cycle that runs longer than this is killed (the DAG task then retries).
IN_PROCESS_TIMEOUT_S = 40 * 60


class CrawlProcessError(RuntimeError):
    """The in-process crawl exited without recording any run (a crash, not a bad site)."""


@dataclass(frozen=True)
class CycleResult:
    """What one retailer's task did in one cycle."""

    retailer: str
    cycle_key: str
    mode: str  # distributed | in_process
    action: str  # queued | crawled | skipped
    queued: int = 0
    circuit_state: str = "closed"
    judged: str = ""  # the previous cycle's verdict, when this run gave one
    detail: str = ""


def previous_cycle_key(slug: str, last_crawl_at: datetime | None, interval_s: int) -> str | None:
    """The key of the cycle that started at `last_crawl_at` (None: never crawled)."""
    return None if last_crawl_at is None else cycle_key_for(slug, last_crawl_at, interval_s)


def breaker_blocks(state: str, retry_at: datetime | None, now: datetime) -> bool:
    """Whether an open circuit still forbids a cycle (past its retry time: one trial)."""
    return state == "open" and retry_at is not None and retry_at > now


def due_slugs(pool: Any, settings: Settings, now: datetime | None = None) -> list[str]:
    """Sync the registry and return the slugs of enabled retailers whose cycle is due."""
    from pricehawk.retailers import registry, sync_retailers

    now = now or datetime.now(UTC)
    retailers = registry(settings)
    enabled = {r.slug for r in retailers if r.enabled}
    with transaction(pool) as conn:
        sync_retailers(conn, retailers)
        due = due_retailers(conn, now)
    return [d.slug for d in due if d.slug in enabled]


def _locked_retailer(conn: Any, slug: str) -> dict[str, Any]:
    row = conn.execute(
        """SELECT paused, crawl_interval_s, last_crawl_at, circuit_state, circuit_retry_at
             FROM retailers WHERE slug = %s FOR UPDATE""",
        (slug,),
    ).fetchone()
    if row is None:
        raise LookupError(f"unknown retailer {slug!r} (run `pricehawk retailers sync`)")
    return dict(row)


def _judge_previous(conn: Any, slug: str, row: dict[str, Any], key: str, now: datetime) -> str:
    """Feed the previous cycle's outcome to the breaker, once: returns the verdict or ''."""
    prev = previous_cycle_key(slug, row["last_crawl_at"], row["crawl_interval_s"])
    if prev is None or prev == key:
        return ""  # never crawled, or this cycle was already started (a retry)
    outcome = cycle_outcome(conn, slug, prev)
    if outcome is None or not outcome.finished:
        # No worker reported on it (none ran, or one still runs): not the retailer's fault.
        return ""
    failed = run_failed(
        outcome.pages, outcome.items, outcome.blocked, sum(outcome.failures.values())
    )
    state, failed_runs, retry_at = record_run_outcome(conn, slug, ok=not failed, now=now)
    row.update(circuit_state=state, failed_runs=failed_runs, circuit_retry_at=retry_at)
    verdict = f"{prev} {'failed' if failed else 'ok'}"
    log.info("retailer %s: cycle %s; circuit %s", slug, verdict, state)
    return verdict


def run_cycle(pool: Any, settings: Settings, slug: str, now: datetime | None = None) -> CycleResult:
    """One retailer's cycle: queued for the workers, or crawled here (see the module doc)."""
    now = now or datetime.now(UTC)
    distributed = settings.crawl_mode == "distributed"
    mode = "distributed" if distributed else "in_process"
    with transaction(pool) as conn:
        row = _locked_retailer(conn, slug)
        key = cycle_key_for(slug, now, row["crawl_interval_s"])
        if row["paused"]:
            return CycleResult(slug, key, mode, "skipped", detail="paused")
        # In process, `pricehawk crawl` judges its own cycle; judging here would count twice.
        judged = _judge_previous(conn, slug, row, key, now) if distributed else ""
        state = row["circuit_state"]
        if breaker_blocks(state, row["circuit_retry_at"], now):
            # Moving last_crawl_at past the judged cycle is what makes the judgement once-only.
            mark_queued(conn, slug, now, half_open=False)
            return CycleResult(
                slug, key, mode, "skipped", circuit_state=state, judged=judged,
                detail=f"circuit open until {row['circuit_retry_at']:%Y-%m-%d %H:%M} UTC",
            )  # fmt: skip
        if not distributed and cycle_outcome(conn, slug, key) is not None:
            return CycleResult(slug, key, mode, "skipped", circuit_state=state,
                               detail="already crawled in this cycle")  # fmt: skip
        mark_queued(conn, slug, now, half_open=state == "open")
        state = "half_open" if state == "open" else state
    if distributed:
        from pricehawk.crawl import queue_cycle

        queued = queue_cycle(settings, slug, key, now=now)
        return CycleResult(slug, key, mode, "queued", queued, state, judged)
    return _crawl_here(pool, slug, key, state)


def crawl_command(slug: str, cycle_key: str) -> list[str]:
    """The in-process crawl of one retailer's cycle, as a command line."""
    return [sys.executable, "-m", "pricehawk.cli.main", "crawl", "--retailer", slug,
            "--cycle-key", cycle_key]  # fmt: skip


def _crawl_here(pool: Any, slug: str, key: str, state: str) -> CycleResult:
    # Settings reach the child through the environment this task was started with.
    proc = subprocess.run(
        crawl_command(slug, key),
        capture_output=True,
        text=True,
        check=False,
        timeout=IN_PROCESS_TIMEOUT_S,
    )
    with transaction(pool) as conn:
        outcome = cycle_outcome(conn, slug, key)
        row = conn.execute(
            "SELECT circuit_state FROM retailers WHERE slug = %s", (slug,)
        ).fetchone()
    if outcome is None:
        raise CrawlProcessError(
            f"crawl of {slug} exited {proc.returncode} without recording a run:"
            f" {proc.stderr[-800:]}"
        )
    detail = f"pages {outcome.pages}, items {outcome.items}, exit {proc.returncode}"
    return CycleResult(slug, key, "in_process", "crawled", 0,
                       row["circuit_state"] if row else state, detail=detail)  # fmt: skip
