"""PostgreSQL: connection pool, transactions, migrations, and the embedded server.

DATABASE_URL wins when set. Otherwise every `pricehawk` command starts — or reuses, when
another process already started it — a PostgreSQL from the `pgserver` package under
PRICEHAWK_HOME; pgserver counts its users and stops the server when the last one exits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from pricehawk.settings import Settings

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# Arbitrary but fixed: every deploy's `db upgrade` takes this advisory lock first.
MIGRATION_LOCK_KEY = 0x5052_4943_4548  # "PRICEH"

_embedded: dict[Path, Any] = {}


def database_url(settings: Settings) -> str:
    """The database URL to use: DATABASE_URL, else the embedded server's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    return str(embedded_server(settings).get_uri())


def embedded_server(settings: Settings) -> Any:
    """Start or reuse the pgserver under PRICEHAWK_HOME/pg (one handle per process)."""
    pgdata = (settings.home / "pg").resolve()
    if pgdata not in _embedded:
        import pgserver  # heavy import; only when no DATABASE_URL is configured

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", pgdata)
        _embedded[pgdata] = pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
    return _embedded[pgdata]


def connect(url: str, **kwargs: Any) -> psycopg.Connection[dict[str, Any]]:
    """One connection with dict rows."""
    return psycopg.connect(url, row_factory=dict_row, **kwargs)


def make_pool(url: str, *, min_size: int = 1, max_size: int = 5) -> ConnectionPool[Any]:
    """A psycopg pool whose connections return dict rows."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row},
        open=True,
        name="pricehawk",
    )
    return pool


@contextmanager
def transaction(pool: ConnectionPool[Any]) -> Iterator[psycopg.Connection[Any]]:
    """Borrow a connection and run the block in one transaction (commit, or roll back on error)."""
    with pool.connection() as conn, conn.transaction():
        yield conn


def redact(url: str) -> str:
    """The URL with any password hidden, for logs."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1****@", url)


# --- migrations (yoyo-migrations; the files in sql/ are the only schema definition) ---------


def _yoyo_url(url: str) -> str:
    # yoyo picks its psycopg 3 backend from the scheme (DESIGN.md, known traps).
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


@contextmanager
def _yoyo(url: str) -> Iterator[tuple[Any, Any]]:
    """yoyo's backend (closed afterwards: an open one blocks cloning the database) and our
    migrations."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(url))
    try:
        yield backend, read_migrations(str(SQL_DIR))
    finally:
        backend.connection.close()


@dataclass(frozen=True)
class MigrationState:
    id: str
    applied: bool


def migration_status(url: str) -> list[MigrationState]:
    """Every migration in sql/ and whether it is applied, in order."""
    with _yoyo(url) as (backend, migrations), backend.lock():
        pending = {m.id for m in backend.to_apply(migrations)}
    return [MigrationState(m.id, m.id not in pending) for m in migrations]


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    # Two deploys must never migrate at once; yoyo's own lock is a table, which a crashed
    # deploy can leave behind, so we hold a session-level advisory lock around it too.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def upgrade(url: str) -> list[str]:
    """Apply pending migrations under the advisory lock; return their ids."""
    with _advisory_lock(url), _yoyo(url) as (backend, migrations), backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def downgrade(url: str, steps: int = 1) -> list[str]:
    """Roll back the last `steps` applied migrations (all of them when steps <= 0)."""
    with _advisory_lock(url), _yoyo(url) as (backend, migrations), backend.lock():
        applied = backend.to_rollback(migrations)
        chosen = applied if steps <= 0 else applied[:steps]
        backend.rollback_migrations(chosen)
    return [m.id for m in chosen]


def verify(url: str) -> list[str]:
    """Dry-run pending migrations in one transaction that is rolled back; return their ids.

    Raises the database error of the first migration that would fail.
    """
    from yoyo.migrations import read_migrations

    status = {s.id: s.applied for s in migration_status(url)}
    pending = [m for m in read_migrations(str(SQL_DIR)) if not status.get(m.id, False)]
    with psycopg.connect(url) as conn:
        try:
            for m in pending:
                # Each of our migrations is one .sql file; run it as yoyo would, then discard.
                conn.execute(Path(m.path).read_text().encode())
        finally:
            conn.rollback()
    return [m.id for m in pending]
