"""Maintenance: daily — next months' partitions, retention pruning, expired tokens/sessions.

`partitions` creates this month's and the next three months' `price_observations`
partitions (ensure_observation_partition, keyed by month: creating one twice is a no-op).
`prune` drops observation partitions, crawl runs and finished outbox rows older than
PRICEHAWK_RETENTION_DAYS. `purge_expired` deletes expired tokens, verification codes and
stale sessions from whichever of those tables exist. The weekly removal of deleted accounts
is the `maintenance_weekly` DAG.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from pricehawk.ops.outcomes import record_failure, record_success

DEFAULT_ARGS = {
    "owner": "pricehawk",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "pool": "pricehawk_db",
}
MONTHS_AHEAD = 3


@dag(
    schedule="30 2 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=DEFAULT_ARGS,
    tags=["pricehawk", "ops", "maintenance"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def maintenance() -> None:
    @task
    def partitions() -> list[str]:
        from pricehawk.ops.maintenance import ensure_partitions
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (_, pool):
            return ensure_partitions(pool, MONTHS_AHEAD)

    @task
    def prune() -> dict[str, int]:
        from pricehawk.ops import maintenance as m
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (settings, pool):
            return m.prune(pool, settings.retention_days)

    @task
    def purge_expired() -> dict[str, int]:
        from pricehawk.ops import maintenance as m
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (_, pool):
            return m.purge_expired(pool)

    partitions() >> prune() >> purge_expired()


maintenance()
