"""Console fixtures: one database filled by the demo for the whole folder, operator accounts,
and the environment the Streamlit app reads its settings from."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import streamlit as st
from streamlit.testing.v1 import AppTest

from pricehawk import db
from pricehawk.demo import run_demo
from pricehawk.operators import create_operator
from pricehawk.settings import Settings, load_settings
from tests.conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent.parent
# The script AppTest runs per session; `streamlit run` serves it through the st.App in app.py.
APP = ROOT / "ops_console" / "main.py"
SERVED_APP = ROOT / "ops_console" / "app.py"
PASSWORD = "correct horse battery staple"
PAGES = (
    "overview", "retailers", "queues", "anomalies", "notifications", "subscribers", "airflow",
    "audit",
)  # fmt: skip


@dataclass(frozen=True)
class DemoDb:
    url: str
    settings: Settings
    env: dict[str, str]
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def demo_db(
    pg_server_url: str, template_db: str, redis_server_url: str, tmp_path_factory: Any
) -> Iterator[DemoDb]:
    """A database the demo filled (run once for every console test), with operators
    alice (operator) and victor (viewer)."""
    name = f"ph_console_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_server_url, name, template=template_db)
    prefix = f"pricehawk-test-{uuid.uuid4().hex[:10]}:"
    home = tmp_path_factory.mktemp("console-home")
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_server_url,
        "PRICEHAWK_REDIS_PREFIX": prefix,
        "PRICEHAWK_HOME": str(home),
        "PRICEHAWK_SECRET_KEY": "test-secret-key-not-for-production",
    }
    settings = load_settings(env)
    summary = run_demo(settings, cycles=4, out=lambda _line: None)
    with db.connect(url) as conn, conn.transaction():
        create_operator(conn, "alice", PASSWORD, "operator")
        create_operator(conn, "victor", PASSWORD, "viewer")
    yield DemoDb(url, settings, env, summary)
    client = redis_lib.Redis.from_url(redis_server_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    # The console's cached pool (st.cache_resource) holds connections to this database
    # when AppTest ran pages in this process.
    if "ops_console.data" in sys.modules:
        sys.modules["ops_console.data"]._pool(url).close()
        st.cache_resource.clear()
    drop_database(pg_server_url, name)


@pytest.fixture()
def console_env(demo_db: DemoDb, monkeypatch: pytest.MonkeyPatch) -> DemoDb:
    """The app reads settings from the environment, like every entry point."""
    for k, v in demo_db.env.items():
        monkeypatch.setenv(k, v)
    for k in ("AIRFLOW_API_URL", "AIRFLOW_API_TOKEN", "AIRFLOW_API_USER", "PRICEHAWK_CRAWL_MODE"):
        monkeypatch.delenv(k, raising=False)
    return demo_db


def signed_in(username: str = "alice") -> AppTest:
    """An AppTest session signed in through the sign-in form."""
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["operator"].username == username
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    """Switch to a page and run it; fail on any exception it raised."""
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def query(url: str, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """Rows of one query on the demo database."""
    with db.connect(url) as conn:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]


def last_audit(url: str, action: str) -> dict[str, Any]:
    """The newest audit row of an action."""
    rows = query(url, "SELECT * FROM audit_log WHERE action = %s ORDER BY id DESC LIMIT 1",
                 (action,))  # fmt: skip
    assert rows, f"no audit row for {action}"
    return rows[0]
