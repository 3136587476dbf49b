"""A small client of Airflow 3's REST API (/api/v2) for the console's Airflow page.

Auth: a bearer token from AIRFLOW_API_TOKEN, or one obtained from the API server's
`POST /auth/token` with AIRFLOW_API_USER / AIRFLOW_API_PASSWORD (Airflow 3's JWT flow);
an expired token is renewed once per request.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from pricehawk.settings import Settings


class AirflowError(RuntimeError):
    """Airflow could not be reached or refused the request (message safe to show)."""


@dataclass(frozen=True)
class Dag:
    dag_id: str
    is_paused: bool
    tags: tuple[str, ...]
    next_run: str | None


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    start_date: str | None
    end_date: str | None

    @property
    def duration_s(self) -> float | None:
        """How long the run took (None while it runs)."""
        if not self.start_date or not self.end_date:
            return None
        start = datetime.fromisoformat(self.start_date.replace("Z", "+00:00"))
        end = datetime.fromisoformat(self.end_date.replace("Z", "+00:00"))
        return (end - start).total_seconds()


def _run(d: dict[str, Any]) -> DagRun:
    return DagRun(
        dag_id=str(d.get("dag_id", "")),
        run_id=str(d.get("dag_run_id") or d.get("run_id") or ""),
        state=str(d.get("state") or "unknown"),
        run_type=str(d.get("run_type") or ""),
        start_date=d.get("start_date"),
        end_date=d.get("end_date"),
    )


class AirflowClient:
    """Airflow 3 REST API: list DAGs, recent runs, trigger a run."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        user: str = "",
        password: str = "",
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._user = user
        self._password = password
        self._http = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _fetch_token(self) -> str:
        if not self._user:
            raise AirflowError("no token, and no AIRFLOW_API_USER to get one")
        try:
            r = self._http.post(
                f"{self.base_url}/auth/token",
                json={"username": self._user, "password": self._password},
            )
        except httpx.HTTPError as exc:
            raise AirflowError(f"cannot reach Airflow at {self.base_url}: {exc}") from None
        if r.status_code not in (200, 201):
            raise AirflowError(f"Airflow sign-in failed (HTTP {r.status_code})")
        token = r.json().get("access_token")
        if not token:
            raise AirflowError("Airflow sign-in returned no access_token")
        return str(token)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            if not self._token:
                self._token = self._fetch_token()
            try:
                r = self._http.request(
                    method,
                    f"{self.base_url}/api/v2{path}",
                    headers={"Authorization": f"Bearer {self._token}"},
                    **kwargs,
                )
            except httpx.HTTPError as exc:
                raise AirflowError(f"cannot reach Airflow at {self.base_url}: {exc}") from None
            if r.status_code == 401:
                if attempt == 1 and self._user:
                    self._token = ""  # expired: sign in again once
                    continue
                raise AirflowError("Airflow rejected the token (HTTP 401)")
            if r.status_code >= 400:
                detail = ""
                with contextlib.suppress(ValueError):
                    detail = str(r.json().get("detail", ""))[:200]
                raise AirflowError(f"HTTP {r.status_code} from {path}: {detail}".rstrip(": "))
            return r.json()
        raise AirflowError("Airflow authentication failed")

    def dags(self, limit: int = 100) -> list[Dag]:
        """Every DAG (up to `limit`)."""
        data = self._request("GET", "/dags", params={"limit": limit, "order_by": "dag_id"})
        return [
            Dag(
                dag_id=d["dag_id"],
                is_paused=bool(d.get("is_paused")),
                tags=tuple(t["name"] if isinstance(t, dict) else str(t) for t in d.get("tags", [])),
                next_run=d.get("next_dagrun_run_after") or d.get("next_dagrun_logical_date"),
            )
            for d in data.get("dags", [])
        ]

    def recent_runs(self, limit: int = 50, dag_id: str = "~") -> list[DagRun]:
        """The newest DAG runs across DAGs (`~` is every DAG), newest first."""
        data = self._request(
            "GET",
            f"/dags/{dag_id}/dagRuns",
            params={"limit": limit, "order_by": "-start_date"},
        )
        return [_run(d) for d in data.get("dag_runs", [])]

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> DagRun:
        """Start a manual run now."""
        data = self._request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        return _run(data)


def client_for(settings: Settings) -> AirflowClient | None:
    """A client when AIRFLOW_API_URL is set, else None (the page says it is not configured)."""
    if not settings.airflow_api_url:
        return None
    return AirflowClient(
        settings.airflow_api_url,
        token=settings.airflow_api_token,
        user=settings.airflow_api_user,
        password=settings.airflow_api_password,
    )
