"""Backups: `pg_dump -Fc`, retention, and a verified restore into a scratch database.

Each dump is taken from an exported snapshot in which every table is also counted, so the
counts in the dump's manifest (`<file>.json`) are exactly what the dump holds, however busy the
database is. Verification restores the dump into a scratch database on the same server,
compares every table's row count with the manifest, drops the scratch database, and records
the verified time where Prometheus reads it (a textfile-collector .prom file, and the
Pushgateway when one is configured).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import re
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pricehawk.db import database_url
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

BACKUP_PREFIX = "pricehawk-"
BACKUP_SUFFIX = ".dump"
METRICS_FILE = "pricehawk_backup.prom"
SCRATCH_PREFIX = "pricehawk_restore_check_"


class BackupError(RuntimeError):
    """A backup, restore or verification failed; the message says which step and why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    server_major: int
    table_counts: dict[str, int]
    created_at: datetime
    verified_at: datetime | None = None
    mismatches: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()


# --- pure decisions -------------------------------------------------------------------------


def backup_name(now: datetime) -> str:
    """The file name of a backup taken at `now` (sortable, UTC)."""
    return f"{BACKUP_PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}{BACKUP_SUFFIX}"


def expired_backups(
    backups: Iterable[tuple[str, datetime]], now: datetime, retention_days: int, keep: str | None
) -> list[str]:
    """Names of backups older than the retention; `keep` (the newest verified) never goes."""
    cutoff = now - timedelta(days=retention_days)
    return sorted(name for name, taken in backups if taken < cutoff and name != keep)


def compare_counts(
    expected: dict[str, int], actual: dict[str, int]
) -> dict[str, tuple[int, int | None]]:
    """Tables whose restored row count differs from the dump's: name -> (expected, actual)."""
    return {
        table: (count, actual.get(table))
        for table, count in sorted(expected.items())
        if actual.get(table) != count
    }


def pick_tool(found: Iterable[tuple[str, int]], server_major: int) -> str | None:
    """The first tool path whose major version equals the server's (pg_dump must match)."""
    return next((path for path, major in found if major == server_major), None)


# --- locating the matching pg_dump / pg_restore -------------------------------------------


def _candidate_dirs(server_major: int) -> list[Path]:
    dirs: list[Path] = []
    # The embedded server (pgserver) ships its own binaries; found without importing it.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    dirs.append(Path(f"/usr/lib/postgresql/{server_major}/bin"))
    dirs.append(Path(f"/usr/pgsql-{server_major}/bin"))
    dirs.extend(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p)
    return dirs


def tool_major(path: str) -> int | None:
    """The major version a pg_dump/pg_restore binary reports, or None if it won't run."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s+(\d+)", out)
    return int(match.group(1)) if match else None


def find_tool(name: str, server_major: int) -> str:
    """The `pg_dump` or `pg_restore` whose major version matches the server's."""
    seen: list[tuple[str, int]] = []
    for directory in _candidate_dirs(server_major):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            major = tool_major(str(candidate))
            if major is not None:
                seen.append((str(candidate), major))
                if major == server_major:
                    return str(candidate)
    found = ", ".join(f"{p} ({m})" for p, m in seen) or "none"
    raise BackupError(
        f"no {name} for PostgreSQL {server_major} found (found: {found}); install "
        f"postgresql-client-{server_major}"
    )


# --- database helpers ------------------------------------------------------------------------


def server_major(url: str) -> int:
    """The server's major version (16 for 16.2)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def _table_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Exact row count of every ordinary table (partitions included, parents not)."""
    tables = conn.execute(
        """SELECT n.nspname, c.relname FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
            ORDER BY 1, 2"""
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in tables:
        # ONLY: a table with inheritance children is counted on its own rows, like its copy.
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
        ).fetchone()
        assert row is not None
        counts[f"{schema}.{table}"] = int(row[0])
    return counts


def table_counts(url: str) -> dict[str, int]:
    """Exact row count of every table in the database at `url`."""
    with psycopg.connect(url) as conn:
        return _table_counts(conn)


def with_dbname(url: str, dbname: str) -> str:
    """The same server and credentials, another database (works for socket URLs too)."""
    return make_conninfo(url, dbname=dbname)


def _dbname(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "postgres")


def _admin_url(url: str) -> str:
    # CREATE/DROP DATABASE run from the server's maintenance database.
    return with_dbname(url, "postgres")


def _tool_env(url: str) -> dict[str, str]:
    # The URL goes on the command line without its password; libpq reads PGPASSWORD instead,
    # so the secret never shows in a process list.
    env = dict(os.environ)
    password = conninfo_to_dict(url).get("password")
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def _no_password(url: str) -> str:
    params = conninfo_to_dict(url)
    params.pop("password", None)
    return make_conninfo("", **params)


def _run(cmd: list[str], url: str, what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_tool_env(url), check=False)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


@contextmanager
def scratch_database(url: str, name: str | None = None) -> Iterator[str]:
    """A new empty database on the same server, dropped afterwards; yields its URL."""
    name = name or f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:12]}"
    admin = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_dbname(url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# --- backup, restore, verify -----------------------------------------------------------------


def backup_dir(settings: Settings) -> Path:
    """Where backups go: PRICEHAWK_BACKUP_DIR, else PRICEHAWK_HOME/backups."""
    return Path(settings.backup_dir) if settings.backup_dir else settings.home / "backups"


def dump(url: str, folder: Path, now: datetime | None = None) -> BackupResult:
    """`pg_dump -Fc` of the database into `folder`, with a manifest of its row counts."""
    now = now or datetime.now(UTC)
    major = server_major(url)
    pg_dump = find_tool("pg_dump", major)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / backup_name(now)
    partial = target.with_name(target.name + ".partial")
    # Count inside the very snapshot pg_dump reads, so the manifest matches the dump exactly.
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        counts = _table_counts(conn)
        _run(
            [pg_dump, "-Fc", f"--snapshot={snapshot}", "-f", str(partial),
             f"--dbname={_no_password(url)}"],
            url,
            f"pg_dump ({pg_dump})",
        )  # fmt: skip
        conn.rollback()
    partial.replace(target)  # a half-written dump never carries the final name
    result = BackupResult(target, target.stat().st_size, major, counts, now)
    write_manifest(result)
    return result


def manifest_path(path: Path) -> Path:
    """The JSON manifest beside a dump."""
    return path.with_name(path.name + ".json")


def write_manifest(result: BackupResult) -> None:
    """Write (or rewrite, once verified) the dump's manifest."""
    data = asdict(result)
    data["path"] = result.path.name
    data["created_at"] = result.created_at.isoformat()
    data["verified_at"] = result.verified_at.isoformat() if result.verified_at else None
    tmp = manifest_path(result.path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(manifest_path(result.path))


def read_manifest(path: Path) -> BackupResult:
    """The manifest of a dump, as written by `dump`."""
    data = json.loads(manifest_path(path).read_text())
    return BackupResult(
        path=path,
        size_bytes=int(data["size_bytes"]),
        server_major=int(data["server_major"]),
        table_counts={k: int(v) for k, v in data["table_counts"].items()},
        created_at=datetime.fromisoformat(data["created_at"]),
        verified_at=datetime.fromisoformat(data["verified_at"]) if data["verified_at"] else None,
        mismatches={k: (int(v[0]), v[1]) for k, v in data.get("mismatches", {}).items()},
    )


def restore(path: Path, target_url: str, *, replace: bool = False) -> None:
    """`pg_restore` a dump into the database at `target_url` (with `replace`: over it)."""
    major = server_major(target_url)
    pg_restore = find_tool("pg_restore", major)
    cmd = [pg_restore, "--no-owner", "--exit-on-error", f"--dbname={_no_password(target_url)}"]
    if replace:
        cmd[1:1] = ["--clean", "--if-exists", "--single-transaction"]
    _run([*cmd, str(path)], target_url, f"pg_restore ({pg_restore})")


def verify(path: Path, url: str) -> BackupResult:
    """Restore the dump into a scratch database and compare every table's row count."""
    expected = read_manifest(path)
    with scratch_database(url) as scratch:
        restore(path, scratch)
        actual = table_counts(scratch)
    mismatches = compare_counts(expected.table_counts, actual)
    extra = sorted(set(actual) - set(expected.table_counts))
    if extra:
        mismatches.update({t: (0, actual[t]) for t in extra})
    verified = BackupResult(
        path=path,
        size_bytes=expected.size_bytes,
        server_major=expected.server_major,
        table_counts=expected.table_counts,
        created_at=expected.created_at,
        verified_at=None if mismatches else datetime.now(UTC),
        mismatches=mismatches,
    )
    write_manifest(verified)
    if mismatches:
        shown = ", ".join(f"{t}: dump {e}, restored {a}" for t, (e, a) in mismatches.items())
        raise BackupError(f"restore of {path.name} does not match: {shown}")
    return verified


def list_backups(folder: Path) -> list[BackupResult]:
    """Every backup in `folder` that has a manifest, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}")):
        if manifest_path(path).exists():
            found.append(read_manifest(path))
    return found


def apply_retention(folder: Path, retention_days: int, now: datetime | None = None) -> list[str]:
    """Delete backups past the retention (never the newest verified); return their names."""
    now = now or datetime.now(UTC)
    backups = list_backups(folder)
    verified = [b for b in backups if b.verified_at is not None]
    keep = verified[-1].path.name if verified else None
    doomed = expired_backups(((b.path.name, b.created_at) for b in backups), now,
                             retention_days, keep)  # fmt: skip
    for name in doomed:
        (folder / name).unlink(missing_ok=True)
        manifest_path(folder / name).unlink(missing_ok=True)
    # Leftovers of a crashed dump are never a backup.
    for partial in folder.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}.partial"):
        if datetime.fromtimestamp(partial.stat().st_mtime, UTC) < now - timedelta(days=1):
            partial.unlink(missing_ok=True)
    return doomed


def record_metrics(settings: Settings, result: BackupResult) -> Path:
    """Write the verified backup's metrics for Prometheus; push them when configured."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

    registry = CollectorRegistry()
    verified = Gauge(
        "pricehawk_backup_last_verified_timestamp_seconds",
        "When the newest backup's restore last matched its dump, table by table.",
        registry=registry,
    )
    size = Gauge(
        "pricehawk_backup_last_size_bytes", "Size of the newest verified backup.", registry=registry
    )
    tables = Gauge(
        "pricehawk_backup_last_tables", "Tables checked in the newest verified backup.",
        registry=registry,
    )  # fmt: skip
    verified.set(result.verified_at.timestamp() if result.verified_at else 0)
    size.set(result.size_bytes)
    tables.set(len(result.table_counts))
    folder = Path(settings.metrics_dir) if settings.metrics_dir else settings.home / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / METRICS_FILE
    write_to_textfile(str(target), registry)  # writes a temp file, then renames: atomic
    if settings.pushgateway_url:
        push_to_gateway(settings.pushgateway_url, job="pricehawk_backup", registry=registry)
    return target


def backup_and_verify(settings: Settings, now: datetime | None = None) -> BackupResult:
    """The whole nightly job: dump, verify by restoring, record the metric, apply retention."""
    url = database_url(settings)
    folder = backup_dir(settings)
    taken = dump(url, folder, now)
    log.info("backup %s: %s bytes, %s tables", taken.path.name, taken.size_bytes,
             len(taken.table_counts))  # fmt: skip
    verified = verify(taken.path, url)
    record_metrics(settings, verified)
    deleted = apply_retention(folder, settings.backup_retention_days, now)
    return dataclasses.replace(verified, deleted=tuple(deleted))


def restore_by_hand(
    settings: Settings, path: Path, *, database: str | None = None, replace: bool = False
) -> tuple[str, dict[str, tuple[int, int | None]]]:
    """`pricehawk db restore`: into a new database (or over the configured one with `replace`).

    Returns the database name and any row-count mismatches against the dump's manifest.
    """
    url = database_url(settings)
    if replace:
        target_url, name = url, _dbname(url)
    else:
        name = database or f"{_dbname(url)}_restored_{datetime.now(UTC):%Y%m%d%H%M%S}"
        with psycopg.connect(_admin_url(url), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        target_url = with_dbname(url, name)
    restore(path, target_url, replace=replace)
    if not manifest_path(path).exists():
        return name, {}
    return name, compare_counts(read_manifest(path).table_counts, table_counts(target_url))
