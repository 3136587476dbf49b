"""Console query latency with 10 million observations.

Generates the data set (benchmarks/console_dataset.py, COPY) into a throwaway database, then
times every query one load of each console page runs (the set the Overview, Retailers,
Anomalies, Notifications, Subscribers and Audit pages issue, cache misses all) — median of
--runs rounds. Baseline: the same queries in the same database with the 0600 migration's
indexes dropped (inside a transaction that is rolled back), interleaved with ours.
A plain count(*) of the observations is printed for scale.

Usage: bench_console.py [--observations N] [--runs R]   (BENCH_DATABASE_URL: a server URL)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from console_dataset import generate  # noqa: E402

from pricehawk import db  # noqa: E402
from pricehawk.console import queries  # noqa: E402
from pricehawk.settings import load_settings  # noqa: E402

CONSOLE_INDEXES = (
    "console_anomalies_created_idx",
    "console_crawl_runs_started_idx",
    "console_outbox_created_idx",
    "console_outbox_first_sent_idx",
    "console_audit_target_idx",
)


@contextmanager
def throwaway_database(keep: bool = False) -> Iterator[str]:
    """A migrated database of our own on BENCH_DATABASE_URL's server (else embedded);
    dropped afterwards unless `keep`."""
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        home = ROOT / ".pricehawk-bench"
        home.mkdir(exist_ok=True)
        server = str(db.embedded_server(load_settings({}, home=home)).get_uri())
    name = f"bench_console_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        db.upgrade(url)
        yield url
    finally:
        if keep:
            print(f"kept {name}: rerun with --reuse {url}")
        else:
            with psycopg.connect(server, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def page_queries(product_ids: list[int]) -> dict[str, Callable[[Any], Any]]:
    """Every query of one load of each page (by the name the metrics use)."""
    return {
        # the Overview page's queries, one by one
        "crawl_health": queries.crawl_health,
        "items_per_minute": queries.items_per_minute,
        "funnel": queries.funnel,
        "latency": queries.latency,
        "outbox_health": queries.outbox_health,
        "oldest_new_anomaly_age": queries.oldest_new_anomaly_age,
        "workers": queries.workers,
        "retailers": queries.retailers,
        "anomaly_feed": lambda c: queries.anomaly_feed(c, limit=20),
        "anomaly_feed_rejected": lambda c: queries.anomaly_feed(c, status="rejected", limit=20),
        "price_history x20": lambda c: [
            queries.price_history(c, p, limit=500) for p in product_ids
        ],
        "notification_breakdown": queries.notification_breakdown,
        "outbox_rows": queries.outbox_rows,
        "subscriber_summary": queries.subscriber_summary,
        "audit_entries": queries.audit_entries,
        "audit_by_target": lambda c: queries.audit_entries(c, target="anomaly:17"),
    }


def time_once(conn: Any, fn: Callable[[Any], Any]) -> float:
    start = time.perf_counter()
    fn(conn)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observations", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--reuse", default="", help="a database a --keep run generated")
    args = parser.parse_args()
    with (
        contextmanager(lambda: iter([args.reuse]))()
        if args.reuse
        else throwaway_database(args.keep) as url
    ):
        if not args.reuse:
            t = time.perf_counter()
            counts = generate(url, observations=args.observations)
            print(f"generated in {time.perf_counter() - t:.0f} s: {counts}", flush=True)
        with db.connect(url, autocommit=True) as conn:
            start = time.perf_counter()
            n = conn.execute("SELECT count(*) AS n FROM price_observations").fetchone()["n"]
            print(
                f"plain count(*) of {n} observations: {(time.perf_counter() - start) * 1000:.0f} ms"
            )
            feed = queries.anomaly_feed(conn, limit=20)
            suite = page_queries([a.product_id for a in feed])
            ours: dict[str, list[float]] = {k: [] for k in suite}
            base: dict[str, list[float]] = {k: [] for k in suite}
            for fn in suite.values():  # warm the cache once: both sides then read from memory
                fn(conn)
            for _ in range(args.runs):
                for name, fn in suite.items():
                    ours[name].append(time_once(conn, fn))
                with conn.transaction(force_rollback=True):
                    for index in CONSOLE_INDEXES:
                        conn.execute(f"DROP INDEX {index}")
                    for name, fn in suite.items():
                        base[name].append(time_once(conn, fn))
        print(f"{'query':28} {'ours (ms)':>10} {'no 0600 idx (ms)':>17}")
        for name in suite:
            print(f"{name:28} {statistics.median(ours[name]) * 1000:10.1f} "
                  f"{statistics.median(base[name]) * 1000:17.1f}")  # fmt: skip
        total = sum(statistics.median(v) for v in ours.values()) * 1000
        total_base = sum(statistics.median(v) for v in base.values()) * 1000
        print(
            f"console page queries, all pages, {n / 1e6:.0f}M observations: {total:.1f} ms "
            f"(baseline {total_base:.1f} ms, ratio {total_base / total:.2f})"
        )


if __name__ == "__main__":
    main()
