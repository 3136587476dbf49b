"""Crawl retailers: every 15 minutes, one mapped task per due retailer.

`find_due` syncs the retailer registry and lists the enabled retailers whose own interval has
passed (`pricehawk.crawl.due_retailers`): paused ones are skipped, and so are those whose
circuit breaker is open, until its retry time allows one trial cycle. Each mapped `crawl`
task runs `pricehawk.ops.crawl.run_cycle` for its retailer:

* PRICEHAWK_CRAWL_MODE=distributed: the previous cycle's outcome (the workers' crawl runs)
  goes to the retailer's circuit breaker, then the cycle's start URLs, sitemaps and due
  tracked URLs are pushed into the Redis queue the `pricehawk crawl --distributed` workers
  pop from (`<prefix>crawl:requests`).
* otherwise (no workers): `pricehawk crawl --retailer X --cycle-key K` runs in a subprocess
  and records its own outcome for the breaker.

The console shows each retailer's breaker. Keyed by retailer and cycle (stable within the
retailer's interval): a re-run judges nothing twice and queues nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from pricehawk.ops.outcomes import record_failure, record_success

DEFAULT_ARGS = {
    "owner": "pricehawk",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "pool": "pricehawk_db",
}


@dag(
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=60),
    default_args=DEFAULT_ARGS,
    tags=["pricehawk", "crawl"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def crawl_retailers() -> None:
    @task
    def find_due() -> list[str]:
        from pricehawk.ops.crawl import due_slugs
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (settings, pool):
            return due_slugs(pool, settings)

    @task(map_index_template="{{ slug }}", execution_timeout=timedelta(minutes=45))
    def crawl(slug: str) -> dict[str, object]:
        import dataclasses

        from pricehawk.ops.crawl import run_cycle
        from pricehawk.ops.runtime import task_resources

        with task_resources() as (settings, pool):
            return dataclasses.asdict(run_cycle(pool, settings, slug))

    crawl.expand(slug=find_due())


crawl_retailers()
