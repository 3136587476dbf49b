"""Locust profile of what subscribers do most: open the dashboard and poll the deals API.

Run by bench_portal.py (headless); by hand: `locust -f benchmarks/locustfile.py --host URL`
with BENCH_SESSIONS (ph_session cookie values, comma-separated) and BENCH_API_TOKEN set.
BENCH_PROFILE=healthz runs the bare /healthz baseline instead. A redirect (an expired session)
or any non-200 answer counts as a failure.
"""

from __future__ import annotations

import itertools
import os

from locust import HttpUser, task

PROFILE = os.environ.get("BENCH_PROFILE", "portal")
# One signed-in session per simulated user, made before the run (signing in hashes a password
# with argon2 on purpose: it would swamp what this profile measures).
SESSIONS = itertools.cycle(os.environ.get("BENCH_SESSIONS", "").split(",") or [""])


class Subscriber(HttpUser):
    """A signed-in Elite subscriber: the dashboard in a browser, the deals API from a script."""

    def on_start(self) -> None:
        if PROFILE == "healthz":
            return
        self.client.cookies.set("ph_session", next(SESSIONS))
        self.api = {"Authorization": f"Bearer {os.environ['BENCH_API_TOKEN']}"}

    @task(1)
    def dashboard(self) -> None:
        if PROFILE == "healthz":
            self.client.get("/healthz")
        else:
            with self.client.get(
                "/dashboard", allow_redirects=False, catch_response=True
            ) as response:
                if response.status_code != 200:
                    response.failure(f"dashboard answered {response.status_code}")

    @task(1)
    def deals_api(self) -> None:
        if PROFILE == "healthz":
            self.client.get("/healthz")
        else:
            self.client.get("/api/v1/deals?limit=30", headers=self.api, name="/api/v1/deals")
