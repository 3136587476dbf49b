"""Readiness probes: is each dependency reachable, and are the workers and crawls alive.

Plain reads of infrastructure tables (no domain logic), kept beside the health views.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# A worker beats after every loop (at most ~5 s idle); a crawl runs every 15 minutes.
HEARTBEAT_MAX_AGE = timedelta(minutes=2)
CRAWL_MAX_AGE = timedelta(hours=1)


def check_database(pool: Any) -> tuple[bool, str]:
    """The database answers a query within 2 s."""
    try:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, type(exc).__name__
    return True, "ok"


def check_redis(client: Any) -> tuple[bool, str]:
    """Redis answers PING."""
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, type(exc).__name__
    return True, "ok"


def check_worker(pool: Any) -> tuple[bool, str]:
    """A worker has beaten recently."""
    try:
        with pool.connection(timeout=2) as conn:
            row = conn.execute(
                "SELECT now() - max(beat_at) AS age FROM worker_heartbeats"
            ).fetchone()
    except Exception as exc:  # noqa: BLE001
        return False, type(exc).__name__
    age = row["age"] if row else None
    if age is None:
        return False, "no worker has ever beaten"
    return age <= HEARTBEAT_MAX_AGE, f"last beat {int(age.total_seconds())} s ago"


def check_crawl(pool: Any) -> tuple[bool, str]:
    """A crawl run finished recently."""
    try:
        with pool.connection(timeout=2) as conn:
            row = conn.execute(
                """SELECT now() - max(finished_at) AS age FROM crawl_runs
                   WHERE status = 'finished'"""
            ).fetchone()
    except Exception as exc:  # noqa: BLE001
        return False, type(exc).__name__
    age = row["age"] if row else None
    if age is None:
        return False, "no crawl has finished yet"
    return age <= CRAWL_MAX_AGE, f"last crawl finished {int(age.total_seconds())} s ago"
