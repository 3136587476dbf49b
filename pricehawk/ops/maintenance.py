"""Database maintenance: next months' partitions, retention pruning, expired tokens and
sessions, and (weekly) the remains of deleted accounts.

Each step is keyed by the partition, table or account it touches, never by when it runs:
running one twice, or late, does nothing more than running it once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pricehawk.db import transaction
from pricehawk.ops import queries

log = logging.getLogger(__name__)

PARTITION_NAME = re.compile(r"^price_observations_(\d{4})_(\d{2})$")
# Heartbeats of a worker unseen this long are history, not a live worker.
HEARTBEAT_RETENTION = timedelta(days=7)
# Portal sessions (0400_accounts) carry no expiry column: they end after this much idleness
# or age. Generous on purpose: the portal enforces its own, shorter timeouts on use; this
# only clears rows nobody will present again.
SESSION_IDLE = timedelta(days=30)
SESSION_MAX_AGE = timedelta(days=90)
THROTTLE_RETENTION = timedelta(days=1)


# --- pure decisions -------------------------------------------------------------------------


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the month holding `moment`."""
    m = moment.astimezone(UTC)
    return datetime(m.year, m.month, 1, tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The first instant of the month `months` after the one holding `moment`."""
    start = month_start(moment)
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def months_to_ensure(now: datetime, months_ahead: int) -> list[datetime]:
    """This month and the next `months_ahead` months."""
    return [add_months(now, i) for i in range(months_ahead + 1)]


def partitions_past_retention(names: Iterable[str], cutoff: datetime) -> list[str]:
    """Monthly partitions whose whole month ends at or before the cutoff."""
    doomed = []
    for name in names:
        match = PARTITION_NAME.match(name)
        if match:
            start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
            if add_months(start, 1) <= cutoff:
                doomed.append(name)
    return sorted(doomed)


# --- jobs -----------------------------------------------------------------------------------


def ensure_partitions(pool: Any, months_ahead: int = 3, now: datetime | None = None) -> list[str]:
    """Create this month's and the next months' partitions; return the ones created."""
    now = now or datetime.now(UTC)
    created = []
    with transaction(pool) as conn:
        before = set(queries.existing_partitions(conn))
        for month in months_to_ensure(now, months_ahead):
            name = queries.ensure_partition(conn, month)
            if name not in before:
                created.append(name)
    return created


def prune(pool: Any, retention_days: int, now: datetime | None = None) -> dict[str, int]:
    """Drop observations, crawl runs and finished outbox rows past the retention."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    counts: dict[str, int] = {}
    with transaction(pool) as conn:
        for name in partitions_past_retention(queries.existing_partitions(conn), cutoff):
            queries.drop_partition(conn, name)
            counts[f"dropped {name}"] = 1
        counts["default-partition observations"] = queries.delete_old_default_rows(conn, cutoff)
        counts["crawl runs"] = queries.delete_old_crawl_runs(conn, cutoff)
        counts["outbox rows"] = queries.delete_old_outbox_rows(conn, cutoff)
        counts["heartbeats"] = queries.delete_stale_heartbeats(conn, now - HEARTBEAT_RETENTION)
    return counts


def purge_expired(pool: Any, now: datetime | None = None) -> dict[str, int]:
    """Delete expired tokens, sessions and verification codes, table by table."""
    now = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    with transaction(pool) as conn:
        for table in queries.expiring_tables(conn):
            counts[table] = queries.delete_expired(conn, table, now)
        # Guarded: these tables arrive with the portal's migrations.
        if queries.table_exists(conn, "user_sessions"):
            counts["user_sessions"] = queries.delete_stale_sessions(
                conn, now - SESSION_IDLE, now - SESSION_MAX_AGE
            )
        if queries.table_exists(conn, "login_throttle"):
            counts["login_throttle"] = queries.delete_old_throttle_rows(
                conn, now - THROTTLE_RETENTION
            )
    return counts


def purge_deleted_accounts(
    pool: Any, grace_days: int, now: datetime | None = None, batch: int = 500
) -> dict[str, Any]:
    """Remove accounts deleted more than `grace_days` ago, one by one.

    One account that cannot go (a table referencing users without ON DELETE CASCADE) is
    reported and skipped; the rest still go.
    """
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=grace_days)
    removed, failed = 0, {}
    with transaction(pool) as conn:
        for user_id in queries.deleted_users(conn, cutoff, batch):
            try:
                with conn.transaction():  # a savepoint per account
                    removed += queries.delete_user(conn, user_id)
            except psycopg.errors.IntegrityError as exc:
                failed[user_id] = str(exc).splitlines()[0]
                log.warning("could not remove deleted account %s: %s", user_id, failed[user_id])
    return {"removed": removed, "failed": failed}
