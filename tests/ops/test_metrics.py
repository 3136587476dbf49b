"""pricehawk.metrics end to end: the /metrics server over HTTP against the real database, the
batch outcome files, the naming rules over what every process registers, and the alert rules
evaluated by promtool on what the exporter actually serves."""

from __future__ import annotations

import dataclasses
import http.server
import json
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from pricehawk import db, metrics
from pricehawk.settings import Settings
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "helm" / "pricehawk" / "files" / "alerts.yaml"
DASHBOARD = ROOT / "helm" / "pricehawk" / "files" / "dashboard.json"
METRICS_DOC = ROOT / "docs" / "metrics.md"


@pytest.mark.parametrize(
    ("name", "kind", "ok"),
    [
        ("pricehawk_crawler_pages_total", "counter", True),
        ("pricehawk_crawler_pages", "counter", False),  # counters end in _total
        ("pricehawk_portal_http_request_duration_seconds", "histogram", True),
        ("pricehawk_portal_http_request_duration_ms", "histogram", False),  # base units
        ("pricehawk_portal_latency", "histogram", False),  # a histogram names its unit
        ("pricehawk_queue_backlog_rows", "gauge", True),
        ("pricehawk_queue_backlog_total", "gauge", False),  # only counters end in _total
        ("pricehawk_backup_last_verified_timestamp", "gauge", False),  # _timestamp_seconds
        ("pricehawk_backup_last_verified_timestamp_seconds", "gauge", True),
        ("crawler_pages_total", "counter", False),  # namespace
        ("pricehawk_pages_total", "counter", False),  # subsystem
        ("pricehawk_worker_Loops_total", "counter", False),  # lower snake case
        ("pricehawk_crawler_block_rate_percent", "gauge", False),  # ratio, not percent
    ],
)
def test_name_rules(name: str, kind: str, ok: bool) -> None:
    assert (metrics.name_problems(name, kind) == []) is ok, metrics.name_problems(name, kind)


# --- the /metrics server against the real database ----------------------------------------

SEED = """
INSERT INTO retailers (slug, name, crawl_interval_s, paused, circuit_state, last_success_at)
VALUES ('fresh', 'Fresh', 900, false, 'closed', now() - interval '5 minutes'),
       ('stale', 'Stale', 900, false, 'open', now() - interval '3 hours'),
       ('paused', 'Paused', 900, true, 'closed', now() - interval '3 days');
INSERT INTO products (retailer_id, url, currency)
SELECT id, 'https://fresh.example/p/' || g, 'USD'
  FROM retailers, generate_series(1, 150) g WHERE slug = 'fresh';
INSERT INTO anomalies (product_id, observed_at, price, currency, confidence, glitch_type,
                       created_at)
SELECT id, now(), 1, 'USD', 0.9, 'decimal_slip', now() - interval '10 minutes'
  FROM products;
INSERT INTO worker_heartbeats (worker, role, beat_at)
VALUES ('w-dead', 'worker', now() - interval '30 minutes');
"""


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture()
def served(settings: Settings, db_url: str) -> Iterator[tuple[int, datetime]]:
    """A metrics server exporting the seeded database's state; (port, seeded at)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SEED)
        seeded = conn.execute("SELECT now()").fetchone()[0]
    pool = db.make_pool(db_url, min_size=1, max_size=2)
    server = metrics.start_metrics_server(
        settings, "worker", pool=pool, export_state=True, registry=CollectorRegistry(), port=0
    )
    assert server is not None
    yield server.port, seeded
    server.close()
    pool.close()


def test_state_collector_exports_the_pipeline_state(served: tuple[int, datetime]) -> None:
    port, seeded = served
    status, text = scrape(port)
    assert status == 200
    got = samples(text)

    def value(name: str, **labels: str) -> float:
        return got[(name, frozenset(labels.items()))]

    assert value("pricehawk_dependency_up", dependency="postgres") == 1
    assert value("pricehawk_dependency_state_query_ok") == 1
    assert value("pricehawk_queue_backlog_rows", queue="anomalies") == 150
    assert value("pricehawk_queue_backlog_rows", queue="outbox") == 0
    assert 590 <= value("pricehawk_queue_oldest_age_seconds", queue="anomalies") <= 900
    stale = value("pricehawk_retailer_last_success_timestamp_seconds", retailer="stale")
    assert abs(seeded.timestamp() - 3 * 3600 - stale) < 5
    assert value("pricehawk_retailer_crawl_interval_seconds", retailer="stale") == 900
    assert value("pricehawk_retailer_active", retailer="paused") == 0
    assert value("pricehawk_retailer_circuit_open", retailer="stale") == 1
    assert value("pricehawk_retailer_circuit_open", retailer="fresh") == 0
    beat = value("pricehawk_heartbeat_timestamp_seconds", worker="w-dead", role="worker")
    assert abs(seeded.timestamp() - 1800 - beat) < 5
    assert value("pricehawk_build_info", version=_version(), process="worker") == 1


def _version() -> str:
    from importlib.metadata import version

    return version("pricehawk")


def test_health_endpoints(served: tuple[int, datetime]) -> None:
    port, _ = served
    assert scrape(port, "/healthz") == (200, "ok\n")  # no liveness checks given
    status, body = scrape(port, "/readyz")
    assert (status, body) == (200, "ok   postgres: ok\n")
    assert scrape(port, "/nope")[0] == 404


def test_liveness_and_readiness_fail_when_their_checks_do(settings: Settings) -> None:
    alive, wedged = metrics.Liveness(max_silence_s=3600), metrics.Liveness(max_silence_s=-1)
    wedged.beat()

    class DeadRedis:
        def ping(self) -> bool:
            raise ConnectionError("refused")

    server = metrics.start_metrics_server(
        settings, "crawler", redis=DeadRedis(), liveness=[alive, wedged],
        registry=CollectorRegistry(), port=0,
    )  # fmt: skip
    assert server is not None
    try:
        status, body = scrape(server.port, "/healthz")
        assert status == 503
        assert body.splitlines()[0].startswith("ok   last beat")
        assert body.splitlines()[1].startswith("FAIL last beat")
        assert scrape(server.port, "/readyz") == (503, "FAIL redis: ConnectionError\n")
    finally:
        server.close()


def test_unreachable_database_reports_dependency_down(settings: Settings) -> None:
    # a pool to a port nothing listens on: the scrape still answers, saying postgres is down
    pool = db.make_pool("postgresql://nobody@127.0.0.1:9/none", min_size=0, max_size=1)
    try:
        collector = metrics.StateCollector(pool, timeout_s=0.5)
        registry = CollectorRegistry()
        registry.register(collector)
        got = {s.name: s.value for f in registry.collect() for s in f.samples}
        assert got["pricehawk_dependency_up"] == 0
        assert got["pricehawk_dependency_state_query_ok"] == 0
        assert "pricehawk_queue_backlog_rows" not in got
    finally:
        pool.close()


def test_port_minus_one_serves_nothing(settings: Settings) -> None:
    off = dataclasses.replace(settings, metrics_port=-1)
    assert metrics.start_metrics_server(off, "worker", registry=CollectorRegistry()) is None


# --- the rules, evaluated on what the exporter serves -----------------------------------------


def test_alerts_fire_on_the_exported_state(served: tuple[int, datetime], tmp_path: Path) -> None:
    """Names and labels line up: promtool evaluates the rules on a real scrape."""
    promtool = require_tool("promtool")
    port, _ = served
    now = datetime.now(UTC).timestamp()
    series = []
    for (name, labels), value in samples(scrape(port)[1]).items():
        if not name.startswith("pricehawk_"):
            continue
        if name.endswith("_timestamp_seconds"):
            value -= now  # promtool's clock starts at 0: keep each timestamp's age
        label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
        series.append({"series": f"{name}{{{label_text}}}", "values": f"{value}x30"})
    expected = {
        "PriceHawkQueueBacklog": [{"queue": "anomalies"}],
        "PriceHawkRetailerNotCrawled": [{"retailer": "stale"}],  # not fresh, not paused
        "PriceHawkWorkerHeartbeatMissing": [{}],
        "PriceHawkDatabaseConnectionFailures": [],
    }
    # Annotations are covered by tests/ops/promtool/; here only names and labels matter.
    doc = yaml.safe_load(ALERTS.read_text())
    rules = {}
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
            rules[rule["alert"]] = rule
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(doc))
    checks = [
        {
            "eval_time": "20m",
            "alertname": alert,
            "exp_alerts": [{"exp_labels": {**rules[alert]["labels"], **extra}} for extra in sets],
        }
        for alert, sets in expected.items()
    ]
    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    path = tmp_path / "scraped_test.yaml"
    path.write_text(yaml.safe_dump(test))
    out = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


# --- batch outcomes ---------------------------------------------------------------------------


class PushCapture(http.server.BaseHTTPRequestHandler):
    """Records what a Pushgateway would receive (method, path, body)."""

    received: list[tuple[str, str, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.received.append(("POST", self.path, self.rfile.read(length).decode()))
        self.send_response(202)
        self.end_headers()

    do_PUT = do_POST  # noqa: N815 - http.server dispatches on this name

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture()
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    received: list[tuple[str, str, str]] = []
    handler = type("Handler", (PushCapture,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def test_batch_outcome_keeps_the_last_success_across_a_failure(
    settings: Settings, pushgateway: tuple[str, list[tuple[str, str, str]]]
) -> None:
    url, received = pushgateway
    s = dataclasses.replace(settings, pushgateway_url=url)
    t0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    path = metrics.record_batch_outcome(
        s, "backup_database", ok=True, started_at=t0, finished_at=t0 + timedelta(seconds=42),
        values={"tables": 17},
    )  # fmt: skip
    assert path == metrics.metrics_dir(s) / "pricehawk_batch_backup_database.prom"
    first = samples(path.read_text())
    key = frozenset({("batch", "backup_database")})
    assert first[("pricehawk_batch_last_ok", key)] == 1
    assert first[("pricehawk_batch_last_duration_seconds", key)] == 42
    assert first[("pricehawk_batch_tables", key)] == 17
    success = (t0 + timedelta(seconds=42)).timestamp()
    assert first[("pricehawk_batch_last_success_timestamp_seconds", key)] == success

    t1 = t0 + timedelta(days=1)
    metrics.record_batch_outcome(
        s, "backup_database", ok=False, started_at=t1, finished_at=t1 + timedelta(seconds=5)
    )
    second = samples(path.read_text())
    assert second[("pricehawk_batch_last_ok", key)] == 0
    assert (
        second[("pricehawk_batch_last_run_timestamp_seconds", key)]
        == (t1 + timedelta(seconds=5)).timestamp()
    )
    assert second[("pricehawk_batch_last_success_timestamp_seconds", key)] == success
    assert not list(path.parent.glob("*.tmp*"))  # written atomically, no leftovers

    # push-add (POST) under job=pricehawk_batch, grouping batch=...; a failure leaves the
    # gateway's success timestamp alone by not sending it
    assert [(m, p) for m, p, _ in received] == [
        ("POST", "/metrics/job/pricehawk_batch/batch/backup_database")
    ] * 2
    assert "pricehawk_batch_last_success_timestamp_seconds" in received[0][2]
    assert "pricehawk_batch_last_success_timestamp_seconds" not in received[1][2]


T0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (T0, T0 + timedelta(seconds=9), (T0, T0 + timedelta(seconds=9))),
        (T0, None, (T0, NOW)),  # a context without the run's end: the callback's own time
        (None, None, (NOW, NOW)),
    ],
)
def test_a_dag_runs_window_for_its_outcome(
    start: datetime | None, end: datetime | None, expected: tuple[datetime, datetime]
) -> None:
    from types import SimpleNamespace

    from pricehawk.ops.outcomes import run_window

    assert run_window(SimpleNamespace(start_date=start, end_date=end), NOW) == expected
    assert run_window(None, NOW) == (NOW, NOW)  # the DAG processor's minimal context


def test_a_dag_callback_records_the_runs_outcome(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from pricehawk.ops import outcomes

    monkeypatch.setenv("PRICEHAWK_HOME", str(settings.home))
    monkeypatch.delenv("PRICEHAWK_METRICS_DIR", raising=False)
    monkeypatch.delenv("PRICEHAWK_PUSHGATEWAY_URL", raising=False)
    run = SimpleNamespace(dag_id="notify", start_date=T0, end_date=T0 + timedelta(seconds=3))
    outcomes.record_success({"dag_run": run})  # the DAG missing: named by its run
    outcomes.record_failure({"dag": SimpleNamespace(dag_id="notify"), "dag_run": run})
    got = samples(metrics.batch_file(settings, "notify").read_text())
    key = frozenset({("batch", "notify")})
    assert got[("pricehawk_batch_last_ok", key)] == 0
    assert got[("pricehawk_batch_last_duration_seconds", key)] == 3
    assert got[("pricehawk_batch_last_success_timestamp_seconds", key)] == run.end_date.timestamp()
    with pytest.raises(ValueError, match="names no DAG"):
        outcomes.record_success({})


# --- every name, everywhere --------------------------------------------------------------------


def exported_names() -> dict[str, str]:
    """{name: kind} of every metric a PriceHawk process registers, as far as importable."""
    import importlib

    from prometheus_client import REGISTRY

    for module in (
        "crawler.metrics",
        "pricehawk.notifications.metrics",
        "pricehawk.validation.llm",
        "pricehawk.console.metrics",
    ):
        importlib.import_module(module)
    names = metrics.registered_names(REGISTRY)
    # registered per app or per scrape, not on import:
    for pattern, kind in [
        (r'Counter\(\s*"(pricehawk_portal_[a-z_]+)"', "counter"),
        (r'Histogram\(\s*"(pricehawk_portal_[a-z_]+)"', "histogram"),
    ]:
        for name in re.findall(pattern, (ROOT / "portal" / "web.py").read_text()):
            names[name + "_total" if kind == "counter" else name] = kind
    # what a batch outcome writes, from a real run into a scratch folder
    import tempfile

    from pricehawk.settings import load_settings

    with tempfile.TemporaryDirectory() as home:
        now = datetime.now(UTC)
        path = metrics.record_batch_outcome(
            load_settings({}, home=Path(home)), "x", ok=True, started_at=now, finished_at=now
        )
        for family in text_string_to_metric_families(path.read_text()):
            names.setdefault(family.name, "gauge")
    for pattern in (r'GaugeMetricFamily\(\s*"([a-z_]+)"', r'Gauge\(\s*"([a-z_]+)"'):
        for source in (ROOT / "pricehawk" / "metrics.py", ROOT / "pricehawk" / "ops" / "backup.py"):
            for name in re.findall(pattern, source.read_text()):
                names.setdefault(name, "gauge")
    return {n: k for n, k in names.items() if n.startswith("pricehawk_")}


def test_every_exported_name_follows_the_rules() -> None:
    problems = {n: metrics.name_problems(n, k) for n, k in exported_names().items()}
    assert {n: p for n, p in problems.items() if p} == {}


def referenced_names() -> set[str]:
    """Metric names the alert rules and the dashboard query."""
    text = ALERTS.read_text() + json.dumps(json.loads(DASHBOARD.read_text()))
    names = set(re.findall(r"\b(pricehawk_[a-z_]+)", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_rules_and_dashboard_only_use_exported_and_documented_names() -> None:
    exported = set(exported_names())
    documented = set(re.findall(r"`(pricehawk_[a-z_]+)`", METRICS_DOC.read_text()))
    used = referenced_names()
    assert used - exported == set(), "queried but exported by no process"
    assert used - documented == set(), "queried but not listed in docs/metrics.md"
    assert exported - documented == set(), "exported but not listed in docs/metrics.md"


def test_state_exporter_process_serves_until_sigterm(
    settings: Settings, db_url: str, redis_server_url: str
) -> None:
    """`python -m pricehawk.metrics` (the chart's pricehawk-exporter) as a real process."""
    import os
    import signal
    import socket
    import sys
    import time

    with socket.socket() as sock:  # a free port for the child to bind
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SEED)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_server_url,
        "PRICEHAWK_HOME": str(settings.home),
        "PRICEHAWK_METRICS_PORT": str(port),
        "PRICEHAWK_METRICS_ADDR": "127.0.0.1",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "pricehawk.metrics"], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for it to listen (not a timing assertion: only a give-up bound)
            try:
                status, text = scrape(port)
                assert status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                assert child.poll() is None, child.communicate()[0]
                assert time.monotonic() < deadline, "exporter never listened"
                time.sleep(0.2)
        got = samples(text)
        assert got[("pricehawk_queue_backlog_rows", frozenset({("queue", "anomalies")}))] == 150
        assert got[("pricehawk_dependency_up", frozenset({("dependency", "redis")}))] == 1
        assert got[("pricehawk_build_info", frozenset(
            {("version", _version()), ("process", "exporter")}))] == 1  # fmt: skip
        assert scrape(port, "/readyz") == (200, "ok   postgres: ok\nok   redis: ok\n")
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
