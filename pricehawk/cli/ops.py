"""`pricehawk smoke URL`, `pricehawk airflow`, and `pricehawk db backup | restore FILE`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pricehawk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
DAGS_FOLDER = ROOT / "dags"
AIRFLOW_DB_POOL = "pricehawk_db"
AIRFLOW_DB_POOL_SLOTS = 4
REDIS_CONN_ID = "pricehawk_redis"


def register(sub: Any) -> None:
    p = sub.add_parser("smoke", help="smoke-test a deploy: health, database, sign-up, login...")
    p.add_argument("url", help="base URL of the deployed portal, e.g. https://pricehawk.example")
    p.set_defaults(func=run_smoke)
    a = sub.add_parser("airflow", help="run `airflow standalone` with our DAGs (local UI)")
    a.add_argument("--port", type=int, default=8080, help="API server / UI port (default 8080)")
    a.add_argument(
        "--prepare-only", action="store_true", help="migrate Airflow's database and stop"
    )
    a.set_defaults(func=run_airflow)


def register_db_commands(dbsub: Any) -> None:
    """Add `backup` and `restore` to `pricehawk db` (called from pricehawk/cli/db.py)."""
    b = dbsub.add_parser("backup", help="pg_dump -Fc, restore into a scratch db and compare")
    b.add_argument("--no-verify", action="store_true", help="skip the verifying restore")
    b.set_defaults(func=run_backup)
    r = dbsub.add_parser("restore", help="restore a backup file (into a new database by default)")
    r.add_argument("file", type=Path, help="a .dump written by `pricehawk db backup`")
    r.add_argument("--database", help="name of the new database (default: <db>_restored_<time>)")
    r.add_argument(
        "--replace",
        action="store_true",
        help="restore over the configured database instead (drops what the dump holds)",
    )
    r.set_defaults(func=run_restore)


def run_smoke(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk.ops.smoke import run_smoke as smoke

    report = smoke(args.url, settings)
    print(report.summary(), flush=True)
    if not report.ok and report.failed is not None:
        print(f"SMOKE TEST FAILED at {report.failed.name}: {report.failed.detail}", file=sys.stderr)
        return 1
    return 0


def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk.db import database_url
    from pricehawk.ops import backup

    try:
        if args.no_verify:
            result = backup.dump(database_url(settings), backup.backup_dir(settings))
        else:
            result = backup.backup_and_verify(settings)
    except backup.BackupError as exc:
        print(f"backup FAILED: {exc}", file=sys.stderr)
        return 1
    state = (
        f"verified at {result.verified_at:%Y-%m-%d %H:%M:%S}"
        if result.verified_at
        else "unverified"
    )
    print(f"{result.path} ({result.size_bytes} bytes, {len(result.table_counts)} tables, {state})")
    for name in result.deleted:
        print(f"deleted (past retention): {name}")
    return 0


def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk.ops import backup

    try:
        name, mismatches = backup.restore_by_hand(
            settings, args.file, database=args.database, replace=args.replace
        )
    except backup.BackupError as exc:
        print(f"restore FAILED: {exc}", file=sys.stderr)
        return 1
    if mismatches:
        for table, (expected, actual) in mismatches.items():
            print(f"MISMATCH {table}: dump {expected}, restored {actual}", file=sys.stderr)
        return 1
    print(f"restored {args.file.name} into database {name}; every table's row count matches")
    return 0


# --- airflow standalone ------------------------------------------------------------------------


def airflow_sql_url(conninfo: dict[str, Any], dbname: str) -> str:
    """A SQLAlchemy (psycopg 3) URL for Airflow's metadata database on the same server."""
    user = quote(str(conninfo.get("user") or "postgres"), safe="")
    password = conninfo.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(conninfo.get("host") or "")
    query: dict[str, str] = {}
    if host.startswith("/"):  # a Unix socket folder (the embedded server)
        query["host"] = host
        netloc = f"{auth}@"
    else:
        port = conninfo.get("port")
        netloc = f"{auth}@{host or 'localhost'}" + (f":{port}" if port else "")
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgresql+psycopg://{netloc}/{quote(dbname, safe='')}{suffix}"


def airflow_redis_conn(redis_url: str) -> str | None:
    """The Airflow connection URI for our Redis (None for a Unix socket: the hook needs TCP)."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        return None
    db = (parts.path or "/0").lstrip("/") or "0"
    auth = ""
    if parts.username or parts.password:
        auth = f"{quote(parts.username or '', safe='')}:{quote(parts.password or '', safe='')}@"
    extra = {"db": db, **({"ssl": "true"} if parts.scheme == "rediss" else {})}
    return f"redis://{auth}{parts.hostname}:{parts.port or 6379}?{urlencode(extra)}"


def airflow_environment(settings: Settings, db_url: str, redis_url: str) -> dict[str, str]:
    """The environment `airflow` runs with: our DAGs, our databases, no examples."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(db_url)
    meta_db = f"{info.get('dbname') or 'pricehawk'}_airflow"
    with psycopg.connect(db_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (meta_db,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{meta_db}"')
    home = (settings.home / "airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_sql_url(info, meta_db),
        # The DAGs' tasks read the same settings as every other entry point.
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "PRICEHAWK_HOME": str(settings.home.resolve()),
    }
    conn_uri = airflow_redis_conn(redis_url)
    if conn_uri:
        env[f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}"] = conn_uri
    return env


def run_airflow(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk import db
    from pricehawk.redis_conn import redis_url

    url = db.database_url(settings)
    db.upgrade(url)
    r_url = redis_url(settings)
    env = {**os.environ, **airflow_environment(settings, url, r_url)}
    env["AIRFLOW__API__PORT"] = str(args.port)
    if f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}" not in env:
        print(
            "note: Redis is a Unix socket (embedded); the anomaly AssetWatcher needs REDIS_URL "
            "over TCP, so validation runs on its 5-minute sweep only.",
            file=sys.stderr,
        )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True)
    subprocess.run(
        [airflow, "pools", "set", AIRFLOW_DB_POOL, str(AIRFLOW_DB_POOL_SLOTS),
         "PriceHawk database: caps concurrent DAG tasks on PostgreSQL"],
        env=env, check=True,
    )  # fmt: skip
    if args.prepare_only:
        print(f"Airflow home {env['AIRFLOW_HOME']}; DAGs from {DAGS_FOLDER}")
        return 0
    print(f"Airflow UI on http://127.0.0.1:{args.port} (login printed by airflow standalone)")
    os.execve(airflow, [airflow, "standalone"], env)  # noqa: S606 - our own venv's airflow
