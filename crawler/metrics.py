"""Prometheus metrics of the crawler (names listed in docs/crawling.md; alerts depend on them).

Defined once per process on the default registry; `pricehawk crawl` serves them with
pricehawk.metrics.start_metrics_server (docs/crawling.md says on which port).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

PAGES = Counter(
    "pricehawk_crawler_pages_total", "Responses received, by retailer and HTTP status.",
    ["retailer", "status"],
)  # fmt: skip
ITEMS = Counter(
    "pricehawk_crawler_items_total", "Product pages read, by retailer and extraction health.",
    ["retailer", "health"],
)  # fmt: skip
FAILURES = Counter(
    "pricehawk_crawler_failures_total",
    "Pages that gave no price, by retailer and reason (block page, CAPTCHA, HTTP status,"
    " timeout, robots...).",
    ["retailer", "reason"],
)
LATENCY = Histogram(
    "pricehawk_crawler_response_latency_seconds", "Download latency per response.", ["retailer"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)  # fmt: skip
QUEUE_DEPTH = Gauge(
    "pricehawk_crawler_queue_depth_requests", "Requests waiting in the shared Redis queue."
)
IN_FLIGHT = Gauge(
    "pricehawk_crawler_in_flight_requests", "Requests this worker popped and has not finished."
)
STORED = Counter(
    "pricehawk_crawler_stored_observations_total", "Price observations written to the database."
)
BUFFERED = Gauge(
    "pricehawk_crawler_buffered_items", "Items waiting in the pipeline buffer (not yet stored)."
)
DB_RETRIES = Counter(
    "pricehawk_crawler_db_write_retries_total", "Batch writes retried after a database error."
)
PROXY_BANS = Counter(
    "pricehawk_crawler_proxy_bans_total", "Proxies benched after a ban signal.", ["retailer"]
)
REQUEUED = Counter(
    "pricehawk_crawler_requeued_requests_total",
    "In-flight requests of dead workers handed back to the queue.",
)
BLOCK_RATE = Gauge(
    "pricehawk_crawler_block_rate_ratio", "Share of recent product pages that were blocked.",
    ["retailer"],
)  # fmt: skip
SLOWDOWN = Gauge(
    "pricehawk_crawler_slowdown_ratio", "Delay multiplier while a retailer pushes back (1: none).",
    ["retailer"],
)  # fmt: skip
MEMORY = Gauge(
    "pricehawk_crawler_memory_bytes", "Resident memory of this worker and of its browsers.",
    ["process"],
)  # fmt: skip


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def _pss_bytes(pid: int) -> int:
    """Proportional set size: a browser's processes share pages, and summing their RSS would
    count the shared ones once per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return _rss_bytes(pid)
    return _rss_bytes(pid)


def _children(pid: int) -> list[int] | None:
    """Direct children from /proc/PID/task/*/children (None when the kernel lacks it)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        if not tasks or not (tasks[0] / "children").exists():
            return None
        out: list[int] = []
        for t in tasks:
            try:
                out.extend(int(c) for c in (t / "children").read_text().split())
            except OSError:
                continue  # the thread exited meanwhile
        return out
    except OSError:
        return []  # the process itself exited


def _descendants(pid: int) -> list[int]:
    # Each tick samples memory: walking only our own process tree is far cheaper than
    # reading every /proc/*/stat on a busy node.
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        if kids is None:
            return _descendants_by_scan(pid)
        out.extend(kids)
        todo.extend(kids)
    return out


def _descendants_by_scan(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def sample_memory() -> tuple[int, int]:
    """(this process's RSS, the summed PSS of its child processes, i.e. browsers) in bytes."""
    me = os.getpid()
    own = _rss_bytes(me)
    browsers = sum(_pss_bytes(p) for p in _descendants(me))
    MEMORY.labels("worker").set(own)
    MEMORY.labels("browser").set(browsers)
    return own, browsers
