"""Validate anomalies: when the crawler announces one, and every 5 minutes as a sweep.

The event path is an Asset whose AssetWatcher listens on the Redis channel the crawl pipeline
publishes anomaly ids on (`<PRICEHAWK_REDIS_PREFIX>anomalies`, through the Airflow connection
`pricehawk_redis`). Redis pub/sub keeps nothing for a listener that is re-subscribing, and the
long-running worker usually validates first, so the sweep validates whatever is still new.
Anomalies are claimed with SKIP LOCKED and a glitch is unique per anomaly: a re-run, the
worker and the watcher can overlap and nothing is validated twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable, dag, task

from pricehawk.ops.outcomes import record_failure, record_success
from pricehawk.settings import load_settings

DEFAULT_ARGS = {
    "owner": "pricehawk",
    "retries": 3,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
    "pool": "pricehawk_db",
}

# The channel name is part of the DAG's definition, so it is read when the file is parsed.
_settings = load_settings()
ANOMALY_CHANNEL = _settings.redis_prefix + "anomalies"

anomalies = Asset(
    name="pricehawk_anomalies",
    uri="pricehawk://anomalies",
    watchers=[
        AssetWatcher(
            name="pricehawk_anomalies_redis",
            trigger=MessageQueueTrigger(
                scheme="redis+pubsub",
                channels=[ANOMALY_CHANNEL],
                redis_conn_id="pricehawk_redis",
                poll_interval=1,
            ),
        )
    ],
)


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"), assets=[anomalies]
    ),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    dagrun_timeout=timedelta(minutes=15),
    default_args=DEFAULT_ARGS,
    tags=["pricehawk", "validation"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def validate_anomalies() -> None:
    @task
    def validate(**context: object) -> dict[str, list[int]]:
        from pricehawk.ops.runtime import anomaly_ids_from_events, task_resources
        from pricehawk.validation.service import validate_pending

        announced = anomaly_ids_from_events(context.get("triggering_asset_events"))
        with task_resources() as (settings, pool):
            glitches = validate_pending(pool, settings, anomaly_ids=announced) if announced else []
            glitches += validate_pending(pool, settings, limit=500)  # the sweep
        return {"announced": announced, "glitches": glitches}

    validate()


validate_anomalies()
