"""Every DAG run's outcome, recorded for Prometheus (PriceHawkBatchJobFailing reads it).

The DAGs pass `record_success` / `record_failure` as their DAG-level `on_success_callback` /
`on_failure_callback`. Airflow decides a run's state from its leaf tasks only, so a final
"report" task with trigger rule ALL_DONE would itself succeed and turn a failed run green;
a DAG callback sees the run's real state. The scheduler hands the callback to the DAG
processor (and `dag.test()` calls it in-process), so it runs with the same image and
environment as the tasks: PRICEHAWK_METRICS_DIR / PRICEHAWK_PUSHGATEWAY_URL apply.

Imports are lazy: DAG files import this module when they are parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def run_window(dag_run: Any, now: datetime) -> tuple[datetime, datetime]:
    """(started, finished) of a finished DAG run; `now` stands in for what it lacks."""
    finished = getattr(dag_run, "end_date", None) or now
    started = getattr(dag_run, "start_date", None) or finished
    return started, finished


def dag_id_of(context: Mapping[str, Any]) -> str:
    """The DAG's id from a callback context (the DAG, else its run)."""
    dag_id = getattr(context.get("dag"), "dag_id", None)
    if dag_id is None:
        dag_id = getattr(context.get("dag_run"), "dag_id", None)
    if not dag_id:
        raise ValueError("callback context names no DAG")
    return str(dag_id)


def record_run(context: Mapping[str, Any], *, ok: bool) -> Path:
    """Record the run in `context` as pricehawk_batch_*{batch=<dag_id>}; the .prom file."""
    from pricehawk.metrics import record_batch_outcome
    from pricehawk.settings import load_settings

    started, finished = run_window(context.get("dag_run"), datetime.now(UTC))
    return record_batch_outcome(
        load_settings(), dag_id_of(context), ok=ok, started_at=started, finished_at=finished
    )


def record_success(context: Mapping[str, Any]) -> None:
    """DAG on_success_callback: the run succeeded."""
    record_run(context, ok=True)


def record_failure(context: Mapping[str, Any]) -> None:
    """DAG on_failure_callback: the run failed (a task failed or the run timed out)."""
    record_run(context, ok=False)
