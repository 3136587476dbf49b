"""One Airflow for the whole folder: its own home and SQLite metadata database under the
session's tmp dir (never the developer's), our dags/ folder parsed once, and the
`pricehawk_db` pool.

Airflow reads its configuration when first imported, so the environment is set before that.
The migrated metadata database is built once per Airflow version and copied into each session
(building it costs several seconds; copying it, milliseconds). DAGs are created unpaused, so
the validate DAG's AssetWatcher is registered by the first sync. The anomaly channel is read at
parse time from a session-unique PRICEHAWK_REDIS_PREFIX; each test points the DAGs' tasks at
its own database, Redis prefix and home through the PriceHawk environment variables (tasks
load settings at run time).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
import pytest
import redis

from pricehawk.settings import Settings, load_settings
from tests.conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent.parent
DAGS = ROOT / "dags"
WEBHOOK_SECRET = "whsec_test_dags"


def _metadata_template() -> Path:
    """Where this machine keeps a freshly migrated metadata database for this Airflow."""
    version = metadata.version("apache-airflow")
    return Path(tempfile.gettempdir()) / f"pricehawk-test-airflow-{version}-{os.getuid()}.db"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Airflow configured, migrated and with our pool; yields the Airflow environment."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PRICEHAWK_REDIS_PREFIX": f"pricehawk-dags-{uuid.uuid4().hex[:10]}:",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    template = _metadata_template()
    if template.exists():
        shutil.copyfile(template, home / "airflow.db")
    from airflow.models.pool import Pool
    from airflow.utils import db as airflow_db

    if not template.exists():
        airflow_db.initdb()
        partial = template.with_suffix(f".{os.getpid()}.tmp")
        # The backup API copies what is still in the write-ahead log too.
        with sqlite3.connect(home / "airflow.db") as src, sqlite3.connect(partial) as dst:
            src.backup(dst)
        os.replace(partial, template)  # atomic: a parallel session sees all of it or none
    Pool.create_or_update_pool("pricehawk_db", 4, "test pool", include_deferred=False)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def dagbag(airflow_home: dict[str, str]) -> Any:
    """dags/ parsed once, as the DAG processor does (a bundle's DagBag)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = next(b for b in manager.get_all_dag_bundles() if b.name == "dags-folder")
    bundle.initialize()
    return BundleDagBag(dag_folder=str(DAGS), bundle_path=bundle.path, bundle_name=bundle.name)


@pytest.fixture(scope="session")
def dags_db(pg_server_url: str, template_db: str) -> Iterator[str]:
    """One migrated database for this folder, emptied before each test: dropping a database
    per test forces a checkpoint each time, seconds on a busy server."""
    name = f"ph_dags_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_server_url, name, template=template_db)
    yield url
    drop_database(pg_server_url, name)


def _empty(url: str) -> None:
    # DELETE with foreign-key triggers off: on these few rows it takes milliseconds, where
    # TRUNCATE of every table (new files for each, fsynced) takes about a second.
    with psycopg.connect(url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        for (table,) in conn.execute(
            """SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND c.relname NOT LIKE '%yoyo%'"""
        ).fetchall():
            conn.execute(f"DELETE FROM {table}")


@pytest.fixture()
def settings(tmp_path: Path, dags_db: str, redis_server_url: str) -> Iterator[Settings]:
    """Settings for this test (overrides the root fixture): the folder's database, emptied;
    its own home folder and Redis key prefix (whose keys are deleted afterwards)."""
    _empty(dags_db)
    prefix = f"pricehawk-test-{uuid.uuid4().hex[:10]}:"
    yield load_settings(
        {},
        home=tmp_path / "home",
        database_url=dags_db,
        redis_url=redis_server_url,
        redis_prefix=prefix,
        secret_key="test-secret-key-not-for-production",
    )
    client = redis.Redis.from_url(redis_server_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def pricehawk_env(settings: Settings) -> dict[str, str]:
    """The environment variables that make a task's load_settings() return `settings`."""
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "PRICEHAWK_HOME": str(settings.home),
        "PRICEHAWK_REDIS_PREFIX": settings.redis_prefix,
        "PRICEHAWK_DEMO_SHOP_URL": settings.demo_shop_url,
        "PRICEHAWK_SECRET_KEY": settings.secret_key,
        "PRICEHAWK_CRAWL_MODE": settings.crawl_mode,
        "PRICEHAWK_RETAILERS_DIR": settings.retailers_dir,
        "STRIPE_API_KEY": settings.stripe_api_key,
        "STRIPE_API_BASE": settings.stripe_api_base,
        "STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
    }


def set_task_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Make the DAGs' tasks load `settings`."""
    for k, v in pricehawk_env(settings).items():
        monkeypatch.setenv(k, v)


@pytest.fixture()
def task_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, airflow_home: Any) -> Settings:
    """Point the DAGs' tasks at this test's database, Redis prefix and home."""
    set_task_env(monkeypatch, settings)
    return settings


def run_dag(dagbag: Any, dag_id: str, **kwargs: Any) -> Any:
    """Run one DAG once with dag.test(); return the DagRun.

    dag.test() re-parses the whole DAG folder and syncs every DAG to the metadata database on
    each call (most of its cost); here it syncs the session's parse of just this DAG.
    """
    import airflow.dag_processing.dagbag as dagbag_module

    dag = dagbag.dags[dag_id]
    only = copy.copy(dagbag)
    only.dags = {dag_id: dag}
    with mock.patch.object(dagbag_module, "BundleDagBag", lambda **_: only):
        return dag.test(**kwargs)


def failed_tasks(dag_run: Any) -> list[str]:
    return [ti.task_id for ti in dag_run.get_task_instances() if ti.state == "failed"]


# --- a served portal (waitress, in this process) with the Stripe stand-in -----------------------


@dataclasses.dataclass
class ServedPortal:
    url: str
    settings: Settings
    stripe: Any  # sandbox.stripe.StripeServer


@pytest.fixture()
def served_portal(task_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedPortal]:
    """The portal on a free loopback port, billing through the Stripe stand-in."""
    import waitress  # type: ignore[import-untyped]

    from portal import create_app
    from sandbox.stripe import StripeServer, StripeStandIn

    stripe = StripeServer(StripeStandIn(webhook_secret=WEBHOOK_SECRET)).start()
    settings = dataclasses.replace(
        task_env,
        stripe_api_key="sk_test_sandbox",
        stripe_api_base=stripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )
    set_task_env(monkeypatch, settings)
    app = create_app(settings)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True, name="test-portal")
    thread.start()
    try:
        yield ServedPortal(f"http://127.0.0.1:{server.effective_port}", settings, stripe)
    finally:
        server.close()
        thread.join(timeout=5)
        app.extensions["pricehawk"].close()
        stripe.stop()


@pytest.fixture()
def running_worker(task_env: Settings) -> Iterator[None]:
    """A `pricehawk worker` loop on a thread against the test's database."""
    from pricehawk.db import make_pool
    from pricehawk.worker import run_worker

    pool = make_pool(task_env.database_url, min_size=1, max_size=2)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(pool, task_env.database_url, task_env, stop),
        kwargs={"idle_wake_s": 1.0},
        daemon=True,
        name="test-worker",
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        pool.close()
