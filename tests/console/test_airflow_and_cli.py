"""The Airflow page and client against a loopback stand-in of Airflow 3's API (the shapes of
its OpenAPI schema: /auth/token, /api/v2/dags, dagRuns), and the `pricehawk` commands."""

from __future__ import annotations

import argparse
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import streamlit as st

from pricehawk.cli.console import streamlit_command
from pricehawk.cli.main import main
from pricehawk.console.airflow import AirflowClient, AirflowError
from tests.console.conftest import DemoDb, last_audit, open_page, signed_in

TOKEN = "jwt-for-console"


class AirflowStandIn(BaseHTTPRequestHandler):
    triggered: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._send(401, {"detail": "Not authenticated"})
        return False

    def do_POST(self) -> None:
        if self.path == "/auth/token":
            body = self._body()
            if (body.get("username"), body.get("password")) == ("console", "s3cret"):
                self._send(201, {"access_token": TOKEN})
            else:
                self._send(401, {"detail": "Invalid credentials"})
            return
        if not self._authorised():
            return
        dag_id = self.path.split("/")[4]
        body = self._body()
        self.triggered.append((dag_id, body))
        self._send(200, {"dag_run_id": "manual__2026-11-23T12:00:00+00:00", "dag_id": dag_id,
                         "state": "queued", "run_type": "manual", "start_date": None,
                         "end_date": None})  # fmt: skip

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.startswith("/api/v2/dags?"):
            self._send(200, {"total_entries": 2, "dags": [
                {"dag_id": "pricehawk_crawl", "is_paused": False, "tags": [{"name": "crawl"}],
                 "next_dagrun_run_after": "2026-11-23T12:15:00Z"},
                {"dag_id": "pricehawk_backup", "is_paused": True, "tags": [],
                 "next_dagrun_run_after": None},
            ]})  # fmt: skip
        elif self.path.startswith("/api/v2/dags/~/dagRuns?"):
            self._send(200, {"total_entries": 1, "dag_runs": [
                {"dag_run_id": "scheduled__1", "dag_id": "pricehawk_crawl", "state": "failed",
                 "run_type": "scheduled", "start_date": "2026-11-23T11:45:00Z",
                 "end_date": "2026-11-23T11:46:30Z"},
            ]})  # fmt: skip
        else:
            self._send(404, {"detail": "Not Found"})


@pytest.fixture()
def airflow_url() -> Iterator[str]:
    AirflowStandIn.triggered = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), AirflowStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_client_signs_in_lists_and_triggers(airflow_url: str) -> None:
    client = AirflowClient(airflow_url, user="console", password="s3cret")
    try:
        assert [d.dag_id for d in client.dags()] == ["pricehawk_crawl", "pricehawk_backup"]
        (run,) = client.recent_runs()
        assert (run.state, run.duration_s) == ("failed", 90.0)
        queued = client.trigger("pricehawk_crawl", conf={"by": "test"})
        assert queued.state == "queued"
        # Airflow 3 wants logical_date in the body (null: now).
        assert AirflowStandIn.triggered == [
            ("pricehawk_crawl", {"logical_date": None, "conf": {"by": "test"}})
        ]
    finally:
        client.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": "expired"}, "rejected the token"),
        ({"user": "console", "password": "wrong"}, "sign-in failed"),
    ],
)
def test_client_reports_auth_failures(
    airflow_url: str, kwargs: dict[str, str], message: str
) -> None:
    client = AirflowClient(airflow_url, **kwargs)
    with pytest.raises(AirflowError, match=message):
        client.dags()
    client.close()


def test_client_reports_an_unreachable_server() -> None:
    client = AirflowClient("http://127.0.0.1:9", token="t", timeout_s=2)
    with pytest.raises(AirflowError, match="cannot reach Airflow"):
        client.dags()
    client.close()


def test_airflow_page_lists_runs_and_triggers_with_an_audit_row(
    console_env: DemoDb, airflow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_API_URL", airflow_url)
    monkeypatch.setenv("AIRFLOW_API_USER", "console")
    monkeypatch.setenv("AIRFLOW_API_PASSWORD", "s3cret")
    st.cache_data.clear()
    at = open_page(signed_in(), "airflow")
    dags, runs = at.dataframe[0].value, at.dataframe[1].value
    assert list(dags["dag"]) == ["pricehawk_crawl", "pricehawk_backup"]
    assert list(dags["last run"]) == ["failed", "—"]
    assert list(runs["took"]) == ["90.0 s"]
    at.selectbox(key="dag_pick").select("pricehawk_crawl").run()
    at.button(key="trigger").click().run()
    assert at.success and "queued" in at.success[0].value
    assert AirflowStandIn.triggered[0][0] == "pricehawk_crawl"
    assert AirflowStandIn.triggered[0][1]["conf"] == {"triggered_by": "operator:alice"}
    row = last_audit(console_env.url, "airflow.trigger")
    assert row["target"] == "dag:pricehawk_crawl" and row["after"]["state"] == "queued"
    # The password never reaches the page.
    assert "s3cret" not in str(at.main) and "s3cret" not in str(at.sidebar)


def test_airflow_page_shows_an_unreachable_server(
    console_env: DemoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AIRFLOW_API_TOKEN", "t")
    st.cache_data.clear()
    at = open_page(signed_in(), "airflow")
    assert at.error and "cannot reach Airflow" in at.error[0].value
    st.cache_data.clear()


def test_operator_create_and_list_commands(
    console_env: DemoDb, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    assert main(["operator", "create", "night-shift", "--role", "viewer", "--password-stdin"]) == 0
    assert "operator night-shift created (viewer)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("too short\n"))
    assert main(["operator", "create", "weak", "--password-stdin"]) == 1
    assert "at least 12" in capsys.readouterr().err
    assert main(["operator", "list"]) == 0
    listing = capsys.readouterr().out
    assert "night-shift\tviewer\tactive" in listing and "weak" not in listing


def test_console_command_runs_streamlit_on_the_app() -> None:
    command = streamlit_command(argparse.Namespace(port=8599, address="127.0.0.1"))
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4].endswith("ops_console/app.py")
    assert command[command.index("--server.port") + 1] == "8599"
    assert command[command.index("--server.headless") + 1] == "true"
