"""One Airflow for the whole folder: its own home and SQLite metadata database under the
session's tmp dir (never the developer's), our dags/ folder, and the `pricehawk_db` pool.

Airflow reads its configuration when first imported, so the environment is set before that.
Each test points the DAGs' tasks at its own database, Redis prefix and home through the
PriceHawk environment variables (tasks load settings at run time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pricehawk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
DAGS = ROOT / "dags"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Airflow configured, migrated and with our pool; yields the Airflow environment."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__TRIGGERER__DEFAULT_CAPACITY": "10",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from airflow.models.pool import Pool
    from airflow.utils import db as airflow_db

    airflow_db.initdb()
    Pool.create_or_update_pool("pricehawk_db", 4, "test pool", include_deferred=False)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def dagbag(airflow_home: dict[str, str]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


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
    }


@pytest.fixture()
def task_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, airflow_home: Any) -> Settings:
    """Point the DAGs' tasks at this test's database, Redis prefix and home."""
    for k, v in pricehawk_env(settings).items():
        monkeypatch.setenv(k, v)
    return settings


def run_dag(dagbag: Any, dag_id: str, **kwargs: Any) -> Any:
    """Run one DAG once with dag.test(); return the DagRun."""
    dag = dagbag.dags[dag_id]
    return dag.test(**kwargs)


def failed_tasks(dag_run: Any) -> list[str]:
    return [ti.task_id for ti in dag_run.get_task_instances() if ti.state == "failed"]
