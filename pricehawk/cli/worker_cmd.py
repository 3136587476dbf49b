"""`pricehawk worker`: validate, fan out and dispatch as events arrive, until stopped."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="the long-running validate / fan-out / dispatch worker")
    p.add_argument("--once", action="store_true", help="run every step once and exit")
    p.add_argument(
        "--idle-wake",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="wake this often even without a NOTIFY (delayed rows fall due silently)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve /metrics, /healthz and /readyz on this port"
        " (default: PRICEHAWK_METRICS_PORT; -1 there: don't)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk import db
    from pricehawk.worker import run_once, run_worker

    url = db.database_url(settings)
    pool = db.make_pool(url)
    try:
        if args.once:
            print(run_once(pool, settings))
            return 0
        from pricehawk import metrics
        from pricehawk.redis_conn import connect_redis

        # /healthz fails when the loop stops beating, so a wedged worker gets restarted.
        live = metrics.Liveness(max_silence_s=max(120.0, 4 * args.idle_wake))
        metrics.start_metrics_server(
            settings,
            "worker",
            pool=pool,
            redis=connect_redis(settings),
            liveness=[live],
            port=args.metrics_port or None,
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_worker(pool, url, settings, stop, idle_wake_s=args.idle_wake, on_beat=live.beat)
    finally:
        pool.close()
    return 0
