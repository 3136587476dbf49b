"""A real triggerer runs the validate DAG's AssetWatcher: a published anomaly id becomes an
asset event, and the scheduler's own asset-trigger step starts a run of validate_anomalies.

dag.test() never runs watchers (DESIGN.md, known traps), so this test starts
`airflow triggerer` as a subprocess on the session's SQLite metadata database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from pricehawk.cli.ops import airflow_redis_conn
from pricehawk.settings import Settings
from tests.dags.conftest import DAGS

WAIT_S = 60.0


def _wait(what: str, check: Any, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            tail = log.read_text()[-3000:]
            pytest.fail(f"triggerer exited ({proc.returncode}) before {what}:\n{tail}")
        time.sleep(0.3)
    pytest.fail(f"no {what} within {WAIT_S:.0f} s; triggerer log:\n{log.read_text()[-3000:]}")


def _sync_dags() -> None:
    """Parse dags/ with this test's environment and write it to the metadata DB (as the DAG
    processor would): the watcher's trigger then carries this test's channel."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    # Watchers' triggers are registered only for unpaused DAGs: sync, unpause, sync again.
    for _ in range(2):
        for bundle in manager.get_all_dag_bundles():
            bundle.initialize()
            bag = BundleDagBag(
                dag_folder=str(DAGS), bundle_path=bundle.path, bundle_name=bundle.name
            )
            sync_bag_to_db(bag, bundle.name, bundle.version)
        with create_session() as session:
            session.query(DagModel).filter(DagModel.dag_id == "validate_anomalies").update(
                {DagModel.is_paused: False}
            )


def test_published_anomaly_starts_a_validate_run(
    airflow_home: dict[str, str],
    task_env: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn_uri = airflow_redis_conn(task_env.redis_url)
    assert conn_uri, "the watcher needs Redis over TCP"
    monkeypatch.setenv("AIRFLOW_CONN_PRICEHAWK_REDIS", conn_uri)
    _sync_dags()

    channel = task_env.redis_prefix + "anomalies"
    client = redis.Redis.from_url(task_env.redis_url, decode_responses=True)
    log = tmp_path / "triggerer.log"
    airflow = str(Path(sys.executable).parent / "airflow")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [airflow, "triggerer", "--capacity", "10"],
            env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The watcher is live once the trigger has subscribed to the channel.
        _wait("subscription to " + channel,
              lambda: client.pubsub_numsub(channel)[0][1] > 0, proc, log)  # fmt: skip
        client.publish(channel, "4242")

        from airflow.models.asset import AssetEvent, AssetModel
        from airflow.utils.session import create_session

        def asset_event() -> Any:
            with create_session() as session:
                return (
                    session.query(AssetEvent.extra)
                    .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                    .filter(AssetModel.name == "pricehawk_anomalies")
                    .all()
                )

        events = _wait("asset event", asset_event, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        client.close()

    payloads = [e.extra.get("payload", {}) for e in events]
    assert any(p.get("data") == "4242" and p.get("channel") == channel for p in payloads)

    # The scheduler's own step turns the queued asset event into a run of the DAG.
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        _, triggered = DagModel.dags_needing_dagruns(session)
        assert "validate_anomalies" in triggered
        dag_model = session.get(DagModel, "validate_anomalies")
        runner = SchedulerJobRunner(job=Job())
        runner._create_dag_runs_asset_triggered(dag_models=[dag_model], session=session)
    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "validate_anomalies").all()
        kinds = {str(r.run_type) for r in runs}
    assert any("asset" in k for k in kinds), kinds
