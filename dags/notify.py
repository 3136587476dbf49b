"""Notify: every minute, fan out confirmed glitches and dispatch due outbox rows.

The worker does both within seconds; this run catches glitches it has not fanned out, sends
the delayed tiers when they fall due (Starter after 24 h, Free after 72 h) and is the safety
net when no worker runs. Fan-out writes one outbox row per (glitch, user, channel) under a
unique key; dispatch claims due rows with SKIP LOCKED and never resends a row whose outcome
is unknown. Re-running a run sends nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from pricehawk.ops.outcomes import record_failure, record_success

DEFAULT_ARGS = {
    "owner": "pricehawk",
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=2),
    "pool": "pricehawk_db",
}


@dag(
    schedule="* * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args=DEFAULT_ARGS,
    tags=["pricehawk", "notifications"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def notify() -> None:
    @task
    def fan_out() -> int:
        from pricehawk.notifications.service import fan_out_pending
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (settings, pool):
            written = 0
            while True:  # in batches, until every pending glitch is fanned out
                batch = fan_out_pending(pool, settings)
                written += batch
                if batch == 0:
                    return written

    @task
    def dispatch() -> dict[str, int]:
        from pricehawk.db import transaction
        from pricehawk.notifications.queries import sweep_stale_sends
        from pricehawk.notifications.service import dispatch_due
        from pricehawk.ops.runtime import task_resources
        from pricehawk.worker import STALE_SEND_S

        with task_resources() as (settings, pool):
            with transaction(pool) as conn:
                sweep_stale_sends(conn, STALE_SEND_S)
            return dispatch_due(pool, settings, limit=500)

    fan_out() >> dispatch()


notify()
