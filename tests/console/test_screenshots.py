"""The console served by `streamlit run ops_console/app.py` against the demo's database: its
metrics server is up from boot, and a headless-chromium screenshot of every page is saved
under artifacts/console/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool
from tests.console.conftest import PASSWORD, SERVED_APP, DemoDb

pytestmark = pytest.mark.slow

# Page title, and a text its script draws last (the page is complete once it shows).
PAGES = {
    "overview": ("Overview", "Workers"),
    "retailers": ("Retailers", "Pause: the scheduler skips it"),
    "queues": ("Queues", "Retry or cancel these"),
    "anomalies": ("Anomalies & glitches", "Reject withdraws a live glitch"),
    "notifications": ("Notifications", "Needing attention"),
    "subscribers": ("Subscribers & revenue", "MRR counts active"),
    "airflow": ("Airflow", "Airflow is not configured"),
    "audit": ("Audit log", "cached up to"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str  # the UI
    metrics_url: str  # the metrics server app.py's lifespan starts


@pytest.fixture(scope="module")
def served(demo_db: DemoDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`streamlit run ops_console/app.py` (what `pricehawk console` runs), with its metrics
    port; ready once Streamlit's health endpoint answers. No browser session is opened."""
    port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ, **demo_db.env, "PRICEHAWK_CONSOLE_REFRESH": "3600",
        "PRICEHAWK_CONSOLE_METRICS_PORT": str(metrics_port),
        "PRICEHAWK_METRICS_ADDR": "127.0.0.1",
    }  # fmt: skip
    for k in ("AIRFLOW_API_URL", "AIRFLOW_API_TOKEN", "AIRFLOW_API_USER"):
        env.pop(k, None)
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(SERVED_APP), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("streamlit did not start: " + log_path.read_text())
        time.sleep(0.3)
    yield Served(url, f"http://127.0.0.1:{metrics_port}")
    proc.terminate()
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_console_process_serves_metrics_from_boot(served: Served) -> None:
    # Streamlit answers and nobody has opened the console: the lifespan hook started it.
    status, body = _get(served.metrics_url + "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body)}
    (info,) = families["pricehawk_build_info"].samples
    assert info.labels["process"] == "console" and info.value == 1
    # the data layer's families, named as docs/metrics.md lists them
    assert {"pricehawk_console_query_seconds", "pricehawk_console_actions"} <= set(families)
    assert _get(served.metrics_url + "/healthz") == (200, "ok\n")
    # readiness is PostgreSQL through the console's own pool
    assert _get(served.metrics_url + "/readyz") == (200, "ok   postgres: ok\n")


def _settled(page: Any, marker: str) -> None:
    """Wait until the page's script has drawn its last part and Streamlit is idle."""
    page.get_by_text(marker).first.wait_for(timeout=30000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30000)
    page.wait_for_timeout(300)  # charts draw after the script ends


def test_screenshot_every_page(served: Served, artifacts_dir: Path) -> None:
    console_url = served.url
    chromium = require_tool("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    out = artifacts_dir / "console"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(console_url)
        page.get_by_role("textbox", name="Username").fill("alice")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.screenshot(path=str(out / "sign_in.png"))
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Overview").wait_for(timeout=30000)
        for slug, (title, marker) in PAGES.items():
            if slug != "overview":
                page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
                page.get_by_role("heading", name=title).wait_for(timeout=30000)
            _settled(page, marker)
            assert page.get_by_test_id("stException").count() == 0, f"{slug} raised"
            shot = out / f"{slug}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        # Signed-in content never shows a subscriber's full address.
        page.get_by_test_id("stSidebarNav").get_by_text("Notifications", exact=True).click()
        page.get_by_role("heading", name="Notifications").wait_for()
        _settled(page, "Needing attention")
        assert "@pricehawk.example" not in page.content()
        browser.close()
