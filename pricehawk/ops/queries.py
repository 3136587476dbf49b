"""SQL of the maintenance jobs; every statement is keyed by what it works on, so re-running
one changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

PARENT = "price_observations"


def existing_partitions(conn: Any) -> list[str]:
    """Names of price_observations' partitions (the default one included)."""
    rows = conn.execute(
        """SELECT c.relname AS name FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass(%s) ORDER BY 1""",
        (PARENT,),
    ).fetchall()
    return [_first(r) for r in rows]


def ensure_partition(conn: Any, month: datetime) -> str:
    """Create the monthly partition holding `month` if missing (the schema's own function)."""
    row = conn.execute("SELECT ensure_observation_partition(%s) AS name", (month,)).fetchone()
    return str(_first(row))


def drop_partition(conn: Any, name: str) -> None:
    """Drop one monthly partition (and its rows)."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def delete_old_default_rows(conn: Any, cutoff: datetime) -> int:
    """Observations older than the cutoff that sit in the default partition."""
    cur = conn.execute("DELETE FROM price_observations_default WHERE observed_at < %s", (cutoff,))
    return int(cur.rowcount)


def delete_old_crawl_runs(conn: Any, cutoff: datetime) -> int:
    """Finished or failed crawl runs started before the cutoff."""
    cur = conn.execute(
        "DELETE FROM crawl_runs WHERE started_at < %s AND status <> 'running'", (cutoff,)
    )
    return int(cur.rowcount)


def delete_old_outbox_rows(conn: Any, cutoff: datetime) -> int:
    """Outbox rows in a final state created before the cutoff (pending/review rows stay)."""
    cur = conn.execute(
        """DELETE FROM notification_outbox
            WHERE created_at < %s AND status IN ('sent', 'expired', 'cancelled', 'dead')""",
        (cutoff,),
    )
    return int(cur.rowcount)


def delete_stale_heartbeats(conn: Any, cutoff: datetime) -> int:
    """Heartbeats of workers not seen since the cutoff."""
    cur = conn.execute("DELETE FROM worker_heartbeats WHERE beat_at < %s", (cutoff,))
    return int(cur.rowcount)


def expiring_tables(conn: Any) -> list[str]:
    """Tables of tokens, sessions and verification codes that carry an `expires_at`.

    Found in the catalogue rather than named, so the portal's tables are purged from the
    day their migration lands and nothing fails before.
    """
    rows = conn.execute(
        """SELECT c.table_name AS name FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND c.column_name = 'expires_at'
              AND t.table_type = 'BASE TABLE'
              AND (c.table_name LIKE '%%token%%' OR c.table_name LIKE '%%session%%'
                   OR c.table_name LIKE '%%verification%%')
            ORDER BY 1"""
    ).fetchall()
    return [_first(r) for r in rows]


def delete_expired(conn: Any, table: str, now: datetime) -> int:
    """Rows of `table` whose expires_at has passed."""
    cur = conn.execute(
        sql.SQL("DELETE FROM {} WHERE expires_at < %s").format(sql.Identifier(table)), (now,)
    )
    return int(cur.rowcount)


def table_exists(conn: Any, name: str) -> bool:
    """Whether a table exists yet (another engineer's migration may not have landed)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (name,)).fetchone()
    return bool(_first(row))


def delete_stale_sessions(conn: Any, idle_before: datetime, created_before: datetime) -> int:
    """Portal sessions past their idle or absolute timeout."""
    cur = conn.execute(
        "DELETE FROM user_sessions WHERE last_seen_at < %s OR created_at < %s",
        (idle_before, created_before),
    )
    return int(cur.rowcount)


def delete_old_throttle_rows(conn: Any, before: datetime) -> int:
    """Login-throttle counters whose window and lock both ended before `before`."""
    cur = conn.execute(
        """DELETE FROM login_throttle WHERE window_started_at < %s
            AND (locked_until IS NULL OR locked_until < %s)""",
        (before, before),
    )
    return int(cur.rowcount)


def deleted_users(conn: Any, cutoff: datetime, limit: int) -> list[int]:
    """Ids of accounts deleted before the cutoff (their rows still present)."""
    rows = conn.execute(
        """SELECT id FROM users WHERE deleted_at IS NOT NULL AND deleted_at < %s
            ORDER BY id LIMIT %s""",
        (cutoff, limit),
    ).fetchall()
    return [int(_first(r)) for r in rows]


def delete_user(conn: Any, user_id: int) -> int:
    """Remove one deleted account; its preferences, channels, tracking and outbox cascade."""
    cur = conn.execute("DELETE FROM users WHERE id = %s AND deleted_at IS NOT NULL", (user_id,))
    return int(cur.rowcount)


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]
