"""Weekly maintenance: remove what remains of accounts deleted more than
PRICEHAWK_ACCOUNT_PURGE_DAYS ago.

Keyed by account: each deleted account is removed in its own savepoint (its preferences,
channels, tracked products and outbox rows cascade); one that cannot go is reported and the
rest still go. Running it twice removes nothing more.
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


@dag(
    schedule="0 4 * * 0",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["pricehawk", "ops", "maintenance"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def maintenance_weekly() -> None:
    @task
    def purge_deleted_accounts() -> dict[str, object]:
        from pricehawk.ops import maintenance as m
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (settings, pool):
            result = m.purge_deleted_accounts(pool, settings.account_purge_days)
        if result["failed"]:
            raise RuntimeError(f"accounts that could not be removed: {result['failed']}")
        return result

    purge_deleted_accounts()


maintenance_weekly()
