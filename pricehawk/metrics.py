"""Prometheus metrics shared by every PriceHawk process (framework-free).

Three things live here:

* the naming rules every exported metric follows (`name_problems`, docs/metrics.md);
* `start_metrics_server`: the /metrics (+ /healthz, /readyz) HTTP server of a long-running
  process without a web framework of its own (crawler workers, `pricehawk worker`, the
  console); the portal serves /metrics from Flask with `exposition()`. It can also register
  `StateCollector`,
  which reads the pipeline's state from PostgreSQL at scrape time (queue backlogs, each
  retailer's last successful crawl, worker heartbeats, database reachability) — state that
  survives restarts and is the same whichever replica answers, so alert rules aggregate it
  with max()/min() and never double count;
* `record_batch_outcome`: what batch work run by Airflow leaves for Prometheus — a textfile
  for the node exporter's textfile collector and, when configured, the Pushgateway.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    make_wsgi_app,
    pushadd_to_gateway,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from pricehawk.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "pricehawk"

# Each process family owns one prefix; docs/metrics.md lists every name under each.
SUBSYSTEMS: tuple[str, ...] = (
    "crawler",  # Scrapy workers (`pricehawk crawl [--distributed]`)
    "detection",  # the detector and validators, wherever they run
    "llm",  # the LLM validator's calls, tokens and latency (pricehawk/validation/llm.py)
    "worker",  # `pricehawk worker`: validate, fan out, dispatch
    "notifications",  # outbox fan-out and delivery, per channel
    "portal",  # the Flask portal (pricehawk_portal_http_*)
    "console",  # the Streamlit console's data layer
    "batch",  # Airflow-run jobs, via record_batch_outcome
    "backup",  # nightly backup + verified restore
    "queue",  # StateCollector: backlogs read from PostgreSQL
    "retailer",  # StateCollector: per-retailer crawl state
    "heartbeat",  # StateCollector: worker heartbeats
    "dependency",  # StateCollector: PostgreSQL / Redis reachability
    "build",  # pricehawk_build_info
    "process",  # prometheus_client's own process collector (standard names)
    "python",  # prometheus_client's own platform collector (python_info, gc)
)

# Base units (https://prometheus.io/docs/practices/naming/#base-units): seconds, bytes, ratio.
UNIT_SUFFIXES: tuple[str, ...] = ("seconds", "bytes", "ratio", "info", "rows", "items")
NON_BASE_UNITS: tuple[str, ...] = (
    "milliseconds",
    "ms",
    "microseconds",
    "minutes",
    "hours",
    "days",
    "kilobytes",
    "megabytes",
    "percent",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def name_problems(name: str, kind: str) -> list[str]:
    """Why `name` breaks our conventions for a metric of `kind` (counter/gauge/histogram/...)."""
    problems: list[str] = []
    if not _NAME.match(name):
        problems.append("use lower_snake_case ASCII")
    parts = name.split("_")
    if parts[0] != NAMESPACE:
        problems.append(f"start with {NAMESPACE}_")
    elif len(parts) < 3 or parts[1] not in SUBSYSTEMS:
        problems.append(f"name a subsystem after {NAMESPACE}_ (one of {', '.join(SUBSYSTEMS)})")
    if any(unit in parts for unit in NON_BASE_UNITS):
        problems.append("use base units (seconds, bytes, ratio)")
    if "__" in name:
        problems.append("no double underscores (reserved)")
    if kind == "counter" and not name.endswith("_total"):
        problems.append("a counter ends in _total")
    if kind != "counter" and name.endswith("_total"):
        problems.append("only counters end in _total")
    if kind == "histogram" and not name.endswith(("_seconds", "_bytes", "_items", "_rows")):
        problems.append("a histogram names its unit (_seconds, _bytes...)")
    if name.endswith("_timestamp"):
        problems.append("a timestamp is _timestamp_seconds")
    return problems


def registered_names(registry: CollectorRegistry = REGISTRY) -> dict[str, str]:
    """{metric family name: type} of everything a registry exports (counters with _total)."""
    names: dict[str, str] = {}
    for family in registry.collect():
        name = family.name + "_total" if family.type == "counter" else family.name
        names[name] = family.type
    return names


# --- /metrics of a long-running process ----------------------------------------------------


def exposition(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """(body, content type) of a /metrics response, for apps that serve it themselves."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


# One gauge per registry (weak: a test's short-lived registry must not hand its gauge to a
# later registry that reuses its id).
_BUILD_INFO: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


def build_info(process: str, registry: CollectorRegistry = REGISTRY) -> None:
    """Export pricehawk_build_info{version, process} = 1 (joins dashboards to a release)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("pricehawk")
    except PackageNotFoundError:  # running from a bare source tree
        release = "unknown"
    gauge = _BUILD_INFO.get(registry)
    if gauge is None:
        gauge = Gauge(
            "pricehawk_build_info",
            "Always 1; labels name the release and the process kind.",
            ["version", "process"],
            registry=registry,
        )
        _BUILD_INFO[registry] = gauge
    gauge.labels(version=release, process=process).set(1)


Check = Callable[[], tuple[bool, str]]


class Liveness:
    """Alive while the process's main loop keeps calling `beat()` (a wedged loop is dead).

    The worker beats once per loop, a crawler once per response or idle tick; /healthz then
    fails after `max_silence_s` without a beat and Kubernetes restarts the container.
    """

    def __init__(self, max_silence_s: float = 120.0) -> None:
        self.max_silence_s = max_silence_s
        self._last = time.monotonic()

    def beat(self) -> None:
        """The main loop made progress."""
        self._last = time.monotonic()

    def __call__(self) -> tuple[bool, str]:
        """(alive, reason) for /healthz."""
        silent = time.monotonic() - self._last
        return silent <= self.max_silence_s, f"last beat {silent:.0f} s ago"


def database_check(pool: Any, timeout_s: float = 2.0) -> Check:
    """A readiness check: PostgreSQL answers `SELECT 1` through the pool."""

    def check() -> tuple[bool, str]:
        try:
            with pool.connection(timeout=timeout_s) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return False, f"postgres: {exc.__class__.__name__}"
        return True, "postgres: ok"

    return check


def redis_check(client: Any) -> Check:
    """A readiness check: Redis answers PING."""

    def check() -> tuple[bool, str]:
        try:
            client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return False, f"redis: {exc.__class__.__name__}"
        return True, "redis: ok"

    return check


def run_checks(checks: Iterable[Check]) -> tuple[bool, list[str]]:
    """Run every check (none: healthy); (all passed, one line per check)."""
    lines: list[str] = []
    healthy = True
    for check in checks:
        ok, reason = check()
        healthy = healthy and ok
        lines.append(("ok   " if ok else "FAIL ") + reason)
    return healthy, lines


def metrics_app(
    registry: CollectorRegistry = REGISTRY,
    *,
    liveness: Iterable[Check] = (),
    readiness: Iterable[Check] = (),
) -> Callable[..., Iterable[bytes]]:
    """WSGI app: /metrics, /healthz (liveness checks) and /readyz (readiness checks)."""
    serve_metrics = make_wsgi_app(registry)
    live, ready = list(liveness), list(readiness)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            healthy, lines = run_checks(live if path == "/healthz" else ready)
            body = ("\n".join(lines or ["ok"]) + "\n").encode()
            status = "200 OK" if healthy else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [body]
        if path == "/metrics":
            result: Iterable[bytes] = serve_metrics(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics, /healthz or /readyz\n"]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Scrapes and probes every few seconds would drown the process's own log."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class MetricsServer:
    """A running /metrics server; `port` is the bound one (useful with port 0)."""

    port: int
    server: Any
    thread: threading.Thread

    def close(self) -> None:
        """Stop serving (tests; a process normally keeps it until exit)."""
        self.server.shutdown()
        self.server.server_close()


def start_metrics_server(
    settings: Settings,
    process: str,
    *,
    pool: Any = None,
    redis: Any = None,
    liveness: Iterable[Check] = (),
    readiness: Iterable[Check] | None = None,
    export_state: bool = False,
    registry: CollectorRegistry = REGISTRY,
    port: int | None = None,
) -> MetricsServer | None:
    """Serve /metrics, /healthz and /readyz on PRICEHAWK_METRICS_PORT (None when it is -1).

    `process` labels pricehawk_build_info (crawler, worker, console...). /healthz runs the
    `liveness` checks (e.g. a `Liveness`); /readyz runs `readiness`, by default PostgreSQL
    through `pool` and Redis through `redis` when given. `export_state=True` (with a pool)
    also registers `StateCollector` — the chart turns it on for the worker and the console.
    """
    chosen = settings.metrics_port if port is None else port
    if chosen < 0:
        return None
    build_info(process, registry)
    if export_state and pool is not None:
        registry.register(StateCollector(pool, redis=redis, redis_prefix=settings.redis_prefix))
    if readiness is None:
        readiness = [database_check(pool)] if pool is not None else []
        if redis is not None:
            readiness.append(redis_check(redis))
    app = metrics_app(registry, liveness=liveness, readiness=readiness)
    addr = settings.metrics_addr
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    server_class = type("MetricsHTTPServer", (_Server,), {"address_family": family})
    server: WSGIServer = make_server(addr, chosen, app, server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    bound = int(server.server_port)
    log.info("metrics: /metrics for %s on %s:%s", process, addr, bound)
    return MetricsServer(port=bound, server=server, thread=thread)


# --- pipeline state read from PostgreSQL at scrape time ------------------------------------

# Kept here rather than in a queries.py: they exist only to be exported, and the names of
# their columns are the label values.
BACKLOG_SQL = """
SELECT 'anomalies' AS queue, count(*) AS rows,
       coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_s
  FROM anomalies WHERE status = 'new'
UNION ALL
SELECT 'outbox', count(*), coalesce(extract(epoch FROM now() - min(due_at)), 0)
  FROM notification_outbox
 WHERE status = 'pending' AND due_at <= now()
   AND (next_attempt_at IS NULL OR next_attempt_at <= now())
UNION ALL
SELECT 'outbox_review', count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
  FROM notification_outbox WHERE status = 'review'
"""
RETAILERS_SQL = """
SELECT slug, crawl_interval_s, paused, circuit_state,
       extract(epoch FROM last_success_at) AS last_success,
       extract(epoch FROM last_crawl_at) AS last_crawl,
       extract(epoch FROM created_at) AS created
  FROM retailers
"""
HEARTBEATS_SQL = """
SELECT worker, role, extract(epoch FROM beat_at) AS beat FROM worker_heartbeats
"""


class StateCollector(Collector):
    """Pipeline state from PostgreSQL (and Redis reachability), read on every scrape."""

    def __init__(
        self,
        pool: Any,
        *,
        redis: Any = None,
        redis_prefix: str = "pricehawk:",
        timeout_s: float = 5.0,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.redis_prefix = redis_prefix
        self.timeout_s = timeout_s

    def describe(self) -> Iterable[Any]:
        """Nothing up front: registering must not query the database."""
        return []

    def collect(self) -> Iterator[Any]:
        """Yield the state families; a database failure yields pricehawk_dependency_up 0."""
        up = GaugeMetricFamily(
            "pricehawk_dependency_up",
            "1 when this process reached the dependency during the last scrape.",
            labels=["dependency"],
        )
        started = time.perf_counter()
        families: list[Any] = []
        reached = False
        try:
            with self.pool.connection(timeout=self.timeout_s) as conn:
                conn.execute("SELECT 1")
                reached = True
                families = list(_state_families(conn))
        except Exception as exc:  # noqa: BLE001 - a failed scrape is what these metrics report
            # reached: the database answers but a state query failed (e.g. not migrated yet)
            log.warning("metrics: pipeline state unavailable: %s", exc.__class__.__name__)
        up.add_metric(["postgres"], 1 if reached else 0)
        if self.redis is not None:
            try:
                self.redis.ping()
                up.add_metric(["redis"], 1)
            except Exception as exc:  # noqa: BLE001 - as above
                log.warning("metrics: redis unreachable: %s", exc.__class__.__name__)
                up.add_metric(["redis"], 0)
        yield up
        yield from families
        ok = GaugeMetricFamily(
            "pricehawk_dependency_state_query_ok",
            "1 when the pipeline state could be read from PostgreSQL during this scrape.",
        )
        ok.add_metric([], 1 if families else 0)
        yield ok
        took = GaugeMetricFamily(
            "pricehawk_dependency_state_query_seconds",
            "How long reading the pipeline state took during this scrape.",
        )
        took.add_metric([], time.perf_counter() - started)
        yield took


def _state_families(conn: Any) -> Iterator[Any]:
    backlog = GaugeMetricFamily(
        "pricehawk_queue_backlog_rows",
        "Rows waiting for the worker: new anomalies, due outbox rows, sends under review.",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        "pricehawk_queue_oldest_age_seconds",
        "Age of the oldest waiting row of each queue (0 when empty).",
        labels=["queue"],
    )
    for row in _rows(conn, BACKLOG_SQL):
        backlog.add_metric([row["queue"]], float(row["rows"]))
        oldest.add_metric([row["queue"]], float(row["oldest_s"]))
    last_success = GaugeMetricFamily(
        "pricehawk_retailer_last_success_timestamp_seconds",
        "When the retailer's last successful crawl finished (its creation time if never).",
        labels=["retailer"],
    )
    interval = GaugeMetricFamily(
        "pricehawk_retailer_crawl_interval_seconds",
        "The retailer's crawl cycle length.",
        labels=["retailer"],
    )
    active = GaugeMetricFamily(
        "pricehawk_retailer_active",
        "1 when the retailer is crawled (not paused by an operator).",
        labels=["retailer"],
    )
    circuit_open = GaugeMetricFamily(
        "pricehawk_retailer_circuit_open",
        "1 while the retailer's circuit breaker skips it (open or half-open).",
        labels=["retailer"],
    )
    for row in _rows(conn, RETAILERS_SQL):
        slug = str(row["slug"])
        seen = row["last_success"] if row["last_success"] is not None else row["created"]
        last_success.add_metric([slug], float(seen))
        interval.add_metric([slug], float(row["crawl_interval_s"]))
        active.add_metric([slug], 0.0 if row["paused"] else 1.0)
        circuit_open.add_metric([slug], 0.0 if row["circuit_state"] == "closed" else 1.0)
    beats = GaugeMetricFamily(
        "pricehawk_heartbeat_timestamp_seconds",
        "Last heartbeat each worker wrote to PostgreSQL.",
        labels=["worker", "role"],
    )
    for row in _rows(conn, HEARTBEATS_SQL):
        beats.add_metric([str(row["worker"]), str(row["role"])], float(row["beat"]))
    yield from (backlog, oldest, last_success, interval, active, circuit_open, beats)


def _rows(conn: Any, query: str) -> list[dict[str, Any]]:
    # Works whatever row factory the pool was made with.
    with conn.cursor() as cur:
        cur.execute(query)
        columns = [c.name for c in cur.description or ()]
        return [row if isinstance(row, dict) else dict(zip(columns, row, strict=True))
                for row in cur.fetchall()]  # fmt: skip


# --- batch outcomes (Airflow tasks, `pricehawk db backup` ...) --------------------------------


def metrics_dir(settings: Settings) -> Path:
    """Folder of the textfile collector's .prom files (PRICEHAWK_METRICS_DIR)."""
    return Path(settings.metrics_dir) if settings.metrics_dir else settings.home / "metrics"


def batch_file(settings: Settings, job: str) -> Path:
    """The .prom file holding `job`'s outcome."""
    return metrics_dir(settings) / f"pricehawk_batch_{_safe(job)}.prom"


LAST_SUCCESS = "pricehawk_batch_last_success_timestamp_seconds"


def record_batch_outcome(
    settings: Settings,
    job: str,
    *,
    ok: bool,
    started_at: datetime,
    finished_at: datetime,
    values: Mapping[str, float] | None = None,
) -> Path:
    """Record one run of a batch job for Prometheus; return the .prom file written.

    Exports pricehawk_batch_last_run_timestamp_seconds, _last_success_timestamp_seconds
    (kept from the previous run when this one failed), _last_duration_seconds and
    _last_ok, each labelled batch=<job> (not job=, which Prometheus owns); `values` adds
    gauges pricehawk_batch_<key> ({"items": 12} -> pricehawk_batch_items{batch=...}).
    With PRICEHAWK_PUSHGATEWAY_URL the same goes to the Pushgateway too.
    """
    path = batch_file(settings, job)
    samples: list[tuple[str, str, float]] = [
        (
            "pricehawk_batch_last_run_timestamp_seconds",
            "When the job's last run finished.",
            finished_at.timestamp(),
        ),
        ("pricehawk_batch_last_ok", "1 when the job's last run succeeded.", 1.0 if ok else 0.0),
        (
            "pricehawk_batch_last_duration_seconds",
            "How long the job's last run took.",
            max(0.0, (finished_at - started_at).total_seconds()),
        ),
    ]
    samples += [
        (f"pricehawk_batch_{_safe(key)}", f"{key} of the job's last run.", float(value))
        for key, value in sorted((values or {}).items())
    ]
    success = finished_at.timestamp() if ok else previous_success(path, job)
    with_success = samples
    if success is not None:
        with_success = [*samples, (LAST_SUCCESS, "When the job last succeeded.", success)]
    path.parent.mkdir(parents=True, exist_ok=True)
    # temp file + rename: the collector never reads half a file
    write_to_textfile(str(path), _batch_registry(job, with_success))
    if settings.pushgateway_url:
        # push-add replaces same-named metrics only, so a failed run (which leaves the
        # success timestamp out) never erases the last success kept there
        pushadd_to_gateway(
            settings.pushgateway_url,
            job="pricehawk_batch",
            registry=_batch_registry(job, with_success if ok else samples),
            grouping_key={"batch": job},
        )
    return path


def _batch_registry(job: str, samples: list[tuple[str, str, float]]) -> CollectorRegistry:
    registry = CollectorRegistry()
    for name, doc, value in samples:
        Gauge(name, doc, ["batch"], registry=registry).labels(batch=job).set(value)
    return registry


def previous_success(path: Path, job: str) -> float | None:
    """The last success timestamp an earlier run left in `path`, if any."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == LAST_SUCCESS and sample.labels.get("batch") == job:
                return float(sample.value)
    return None


def _safe(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower()).strip("_") or "job"


# --- the pipeline-state exporter (the chart's pricehawk-exporter Deployment) ----------------


def serve_state(settings: Settings, stop: threading.Event) -> MetricsServer | None:
    """Export the pipeline state on PRICEHAWK_METRICS_PORT until `stop` is set.

    One small process of its own, so the state (and a dead worker's stale heartbeat) is
    reported even when every worker is down, and never twice.
    """
    from pricehawk import db
    from pricehawk.redis_conn import connect_redis

    # The pool opens in the background: an unreachable database at start-up is exported as
    # pricehawk_dependency_up 0 instead of crashing the exporter.
    pool = db.make_pool(db.database_url(settings), min_size=1, max_size=2)
    client = connect_redis(settings)
    server = start_metrics_server(settings, "exporter", pool=pool, redis=client, export_state=True)
    try:
        stop.wait()
    finally:
        if server is not None:
            server.close()
        pool.close()
        client.close()
    return server


def main() -> int:
    """`python -m pricehawk.metrics`: run the state exporter until SIGTERM or SIGINT."""
    import signal

    from pricehawk.settings import load_settings

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve_state(settings, stop)
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: one set of module globals
    # (the build_info gauges) whoever else imports pricehawk.metrics.
    from pricehawk.metrics import main as _main

    raise SystemExit(_main())
