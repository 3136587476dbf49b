"""Deploy smoke test: triggered by hand or by a deploy, with the deployed portal's URL.

Runs exactly what `pricehawk smoke URL` runs — /healthz and /readyz, a database query, sign-up
and sign-in through the portal's forms, creating a Checkout session, a tracked-price alert a
running `pricehawk worker` must evaluate, and the account deleting itself — and fails loudly
naming the step that broke. The smoke account (`smoke+<random>@pricehawk.invalid`) and its
probe are removed at the end whatever failed, and no subscriber is told anything (the portal's
own sign-up and deletion emails go to that undeliverable address), so re-running is harmless.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from pricehawk.ops.outcomes import record_failure, record_success

DEFAULT_ARGS = {
    "owner": "pricehawk",
    # One quick retry rides out a pod still starting; a real failure still fails in seconds.
    "retries": 1,
    "retry_delay": timedelta(seconds=5),
    "pool": "pricehawk_db",
}


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args=DEFAULT_ARGS,
    params={
        "url": Param(
            "http://127.0.0.1:8000", type="string", description="Base URL of the deployed portal"
        )
    },
    tags=["pricehawk", "ops", "deploy"],
    doc_md=__doc__,
    # every run's outcome -> pricehawk_batch_*{batch=<dag_id>} (PriceHawkBatchJobFailing)
    on_success_callback=record_success,
    on_failure_callback=record_failure,
)
def deploy_smoke_test() -> None:
    @task(execution_timeout=timedelta(minutes=10))
    def smoke(**context: object) -> list[str]:
        from pricehawk.ops.smoke import SmokeError, run_smoke
        from pricehawk.settings import load_settings

        params = context["params"]
        url = params["url"]  # type: ignore[index]
        report = run_smoke(str(url), load_settings())
        if not report.ok:
            raise SmokeError(report.summary())
        return [f"{s.name}: ok" for s in report.steps]

    smoke()


deploy_smoke_test()
