"""Crawl retailers: every 15 minutes, one mapped task per due retailer.

`find_due` syncs the retailer registry, updates each retailer's circuit breaker from its
recent crawl runs (open after repeated failures, one trial run after the cooldown) and
returns the retailers whose own interval has passed; paused ones are skipped. Each mapped
`crawl` task claims that retailer's cycle and either queues its start URLs and due tracked
URLs in Redis for the crawler workers (PRICEHAWK_CRAWL_MODE=distributed) or runs the crawl
in a subprocess. The claim is keyed by the retailer, so re-running a run queues nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

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
)
def crawl_retailers() -> None:
    @task
    def find_due() -> list[str]:
        from pricehawk.ops.runtime import task_resources
        from pricehawk.scheduling import due_retailers

        with task_resources() as (settings, pool):
            return due_retailers(pool, settings)

    @task(map_index_template="{{ slug }}", execution_timeout=timedelta(minutes=45))
    def crawl(slug: str) -> dict[str, object]:
        import dataclasses

        from pricehawk.ops.runtime import task_resources
        from pricehawk.scheduling import crawl_cycle_in_process, queue_cycle

        with task_resources() as (settings, pool):
            if settings.crawl_mode == "distributed":
                result = queue_cycle(pool, settings, slug)
            else:
                result = crawl_cycle_in_process(pool, settings, slug)
        return dataclasses.asdict(result)

    crawl.expand(slug=find_due())


crawl_retailers()
