"""Back up the database: daily at 03:00 UTC, and prove the backup restores.

`dump` runs `pg_dump -Fc` (the pg_dump matching the server's major version) into
PRICEHAWK_BACKUP_DIR with a manifest of every table's row count, taken in the dump's own
snapshot. `verify` restores it into a scratch database, compares every table's row count
with the manifest and drops the scratch database; then the verified time is written for
Prometheus (`pricehawk_backup_last_verified_timestamp_seconds`, textfile collector and, when
set, the Pushgateway). `retention` deletes backups older than PRICEHAWK_BACKUP_RETENTION_DAYS
but never the newest verified one. A re-run takes a fresh snapshot; it loses nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from pricehawk.ops.outcomes import record_failure, record_success

DEFAULT_ARGS = {
    "owner": "pricehawk",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "pool": "pricehawk_db",
}


@dag(
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args=DEFAULT_ARGS,
    tags=["pricehawk", "ops", "backup"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def backup_database() -> None:
    @task(execution_timeout=timedelta(hours=3))
    def dump() -> str:
        from pricehawk.db import database_url
        from pricehawk.ops import backup
        from pricehawk.settings import load_settings

        settings = load_settings()
        return str(backup.dump(database_url(settings), backup.backup_dir(settings)).path)

    @task(execution_timeout=timedelta(hours=3))
    def verify(path: str) -> dict[str, object]:
        from pathlib import Path

        from pricehawk.db import database_url
        from pricehawk.ops import backup
        from pricehawk.settings import load_settings

        settings = load_settings()
        result = backup.verify(Path(path), database_url(settings))
        metrics = backup.record_metrics(settings, result)
        return {"path": path, "tables": len(result.table_counts), "metrics": str(metrics)}

    @task
    def retention() -> list[str]:
        from pricehawk.ops import backup
        from pricehawk.settings import load_settings

        settings = load_settings()
        return backup.apply_retention(backup.backup_dir(settings), settings.backup_retention_days)

    verify(dump()) >> retention()


backup_database()
