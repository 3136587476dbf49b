"""The DAG folder imports cleanly and every DAG follows the house rules."""

from __future__ import annotations

from typing import Any

from pricehawk.ops.outcomes import record_failure, record_success

EXPECTED = {
    "crawl_retailers",
    "validate_anomalies",
    "notify",
    "backup_database",
    "maintenance",
    "maintenance_weekly",
    "deploy_smoke_test",
}


def test_dagbag_imports_every_dag_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_every_dag_has_tags_docs_no_catchup_and_db_pool_with_retries(dagbag: Any) -> None:
    for dag_id in EXPECTED:
        dag = dagbag.dags[dag_id]
        assert "pricehawk" in dag.tags, dag_id
        assert dag.doc_md and dag.doc_md.strip(), dag_id
        assert dag.catchup is False, dag_id
        # every run's outcome reaches Prometheus (PriceHawkBatchJobFailing)
        assert dag.on_success_callback is record_success, dag_id
        assert dag.on_failure_callback is record_failure, dag_id
        for t in dag.tasks:
            assert t.pool == "pricehawk_db", (dag_id, t.task_id)
            assert t.retries >= 1, (dag_id, t.task_id)


def test_validate_dag_watches_the_anomaly_channel(dagbag: Any) -> None:
    dag = dagbag.dags["validate_anomalies"]
    assets = dag.timetable.asset_condition.objects
    watchers = [w for asset in assets for w in asset.watchers]
    assert len(watchers) == 1
    trigger = watchers[0].trigger
    classpath, kwargs = trigger.serialize()
    assert classpath.endswith("redis_await_message.AwaitMessageTrigger")
    assert kwargs["channels"][0].endswith("anomalies")
    assert kwargs["redis_conn_id"] == "pricehawk_redis"
