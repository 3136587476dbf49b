"""SQL of the crawl domain: which retailers are due, tracked URLs, crawl runs, breaker, health."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pricehawk.crawl.decisions import cycle_key_for, next_circuit
from pricehawk.crawl.models import DueRetailer, RunOutcome


def _get(row: Any, name: str, index: int) -> Any:
    return row[name] if isinstance(row, dict) else row[index]


def due_retailers(conn: Any, now: datetime) -> list[DueRetailer]:
    """Retailers whose next cycle is due at `now`: not paused, interval elapsed since the last
    crawl, and circuit closed, or open with its retry time passed (then tried half open)."""
    rows = conn.execute(
        """
        SELECT id, slug, crawl_interval_s, circuit_state, circuit_retry_at
        FROM retailers
        WHERE NOT paused
          AND (last_crawl_at IS NULL
               OR last_crawl_at + make_interval(secs => crawl_interval_s) <= %(now)s)
          AND (circuit_state <> 'open' OR circuit_retry_at IS NULL
               OR circuit_retry_at <= %(now)s)
        ORDER BY slug
        """,
        {"now": now},
    ).fetchall()
    out = []
    for row in rows:
        slug = _get(row, "slug", 1)
        interval = _get(row, "crawl_interval_s", 2)
        state = _get(row, "circuit_state", 3)
        out.append(
            DueRetailer(
                id=_get(row, "id", 0),
                slug=slug,
                crawl_interval_s=interval,
                circuit_state="half_open" if state != "closed" else "closed",
                cycle_key=cycle_key_for(slug, now, interval),
            )
        )
    return out


def mark_queued(conn: Any, retailer_slug: str, now: datetime, *, half_open: bool) -> None:
    """Record that a cycle was queued (last_crawl_at), moving an open circuit to half open."""
    conn.execute(
        """UPDATE retailers SET last_crawl_at = %s, updated_at = now(),
               circuit_state = CASE WHEN %s THEN 'half_open' ELSE circuit_state END
           WHERE slug = %s""",
        (now, half_open, retailer_slug),
    )


def tracked_urls(
    conn: Any, retailer_slug: str, *, now: datetime | None = None, min_age_s: float = 0
) -> list[str]:
    """URLs subscribers track at this retailer (not paused), optionally only those not fetched
    in the last `min_age_s` seconds."""
    cutoff = None if now is None or min_age_s <= 0 else now - timedelta(seconds=min_age_s)
    rows = conn.execute(
        """
        SELECT DISTINCT p.url FROM tracked_products t
        JOIN products p ON p.id = t.product_id
        JOIN retailers r ON r.id = p.retailer_id
        WHERE r.slug = %(slug)s AND NOT t.paused
          AND (%(cutoff)s::timestamptz IS NULL OR p.last_fetch_at IS NULL
               OR p.last_fetch_at < %(cutoff)s)
        ORDER BY p.url
        """,
        {"slug": retailer_slug, "cutoff": cutoff},
    ).fetchall()
    return [_get(r, "url", 0) for r in rows]


def start_run(conn: Any, retailer_slug: str, spider: str, cycle_key: str, worker: str) -> int:
    """Open a crawl_runs row for one retailer in one worker; returns its id."""
    row = conn.execute(
        """INSERT INTO crawl_runs (retailer_id, spider, cycle_key, worker)
           SELECT id, %s, %s, %s FROM retailers WHERE slug = %s RETURNING id""",
        (spider, cycle_key, worker, retailer_slug),
    ).fetchone()
    if row is None:
        raise LookupError(f"unknown retailer {retailer_slug!r} (run `pricehawk retailers sync`)")
    return int(_get(row, "id", 0))


def finish_run(
    conn: Any,
    run_id: int,
    *,
    status: str,
    pages: int,
    items: int,
    blocked: int,
    failures: dict[str, int],
    stats: dict[str, Any],
) -> None:
    """Close a crawl_runs row with its counts."""
    conn.execute(
        """UPDATE crawl_runs SET finished_at = now(), status = %s, pages = %s, items = %s,
               blocked = %s, failures = %s, stats = %s WHERE id = %s""",
        (status, pages, items, blocked, json.dumps(failures), json.dumps(stats), run_id),
    )


def cycle_outcome(conn: Any, retailer_slug: str, cycle_key: str) -> RunOutcome | None:
    """Every worker's runs of one retailer in one cycle, summed; None if none ran."""
    rows = conn.execute(
        """SELECT c.pages, c.items, c.blocked, c.failures, c.status, c.finished_at
           FROM crawl_runs c JOIN retailers r ON r.id = c.retailer_id
           WHERE r.slug = %s AND c.cycle_key = %s""",
        (retailer_slug, cycle_key),
    ).fetchall()
    if not rows:
        return None
    failures: dict[str, int] = {}
    for r in rows:
        for reason, n in (_get(r, "failures", 3) or {}).items():
            failures[reason] = failures.get(reason, 0) + int(n)
    finished_times = [_get(r, "finished_at", 5) for r in rows if _get(r, "finished_at", 5)]
    return RunOutcome(
        retailer=retailer_slug,
        cycle_key=cycle_key,
        runs=len(rows),
        pages=sum(_get(r, "pages", 0) for r in rows),
        items=sum(_get(r, "items", 1) for r in rows),
        blocked=sum(_get(r, "blocked", 2) for r in rows),
        failures=failures,
        finished=all(_get(r, "status", 4) != "running" for r in rows),
        last_finished_at=max(finished_times) if finished_times else None,
    )


def record_run_outcome(
    conn: Any,
    retailer_slug: str,
    *,
    ok: bool,
    now: datetime,
    threshold: int = 3,
    base_s: float = 900.0,
) -> tuple[str, int, datetime | None]:
    """Apply one cycle's result to the retailer's circuit breaker; returns the new
    (circuit_state, failed_runs, circuit_retry_at). Safe to call from a retried task only
    once per cycle (the caller keys it by cycle)."""
    row = conn.execute(
        "SELECT circuit_state, failed_runs FROM retailers WHERE slug = %s FOR UPDATE",
        (retailer_slug,),
    ).fetchone()
    if row is None:
        raise LookupError(f"unknown retailer {retailer_slug!r}")
    state, failed, retry_at = next_circuit(
        _get(row, "circuit_state", 0),
        _get(row, "failed_runs", 1),
        ok=ok,
        now=now,
        threshold=threshold,
        base_s=base_s,
    )
    conn.execute(
        """UPDATE retailers SET circuit_state = %s, failed_runs = %s, circuit_retry_at = %s,
               last_success_at = CASE WHEN %s THEN %s ELSE last_success_at END,
               updated_at = now()
           WHERE slug = %s""",
        (state, failed, retry_at, ok, now, retailer_slug),
    )
    return state, failed, retry_at


def record_block_rate(
    conn: Any, retailer_slug: str, *, rate: float, factor: float, flagged: bool, reason: str
) -> None:
    """Store a retailer's current block rate and slowdown; flag it (once) or clear the flag."""
    conn.execute(
        """UPDATE retailers SET block_rate = %s, slowdown_factor = %s,
               flagged_at = CASE WHEN %s THEN COALESCE(flagged_at, now()) ELSE NULL END,
               flag_reason = CASE WHEN %s THEN %s ELSE NULL END, updated_at = now()
           WHERE slug = %s""",
        (rate, max(1.0, factor), flagged, flagged, reason, retailer_slug),
    )


def slowdown_factors(conn: Any) -> dict[str, float]:
    """Each retailer's current slowdown factor (1 = normal speed)."""
    rows = conn.execute("SELECT slug, slowdown_factor FROM retailers").fetchall()
    return {_get(r, "slug", 0): float(_get(r, "slowdown_factor", 1)) for r in rows}
