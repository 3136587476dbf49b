"""`pricehawk worker`: the fast path — validate, fan out and dispatch as events arrive.

It LISTENs for new anomalies, glitches and outbox rows (NOTIFY) and also wakes every few
seconds, because delayed rows fall due with no event, tracked-product alerts follow new
observations (which announce nothing), and a NOTIFY sent while it was busy or disconnected is
gone. Every step claims rows with SKIP LOCKED, so any number of workers and Airflow runs can
overlap.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pricehawk.db import transaction
from pricehawk.detection.service import ANOMALY_CHANNEL
from pricehawk.notifications.service import (
    OUTBOX_CHANNEL,
    Dispatcher,
    dispatch_due,
    evaluate_alerts,
    fan_out_pending,
    refresh_outbox_metrics,
    sweep_stale_sends,
)
from pricehawk.settings import Settings
from pricehawk.validation.service import GLITCH_CHANNEL, validate_pending

log = logging.getLogger(__name__)

# A row still 'sending' after this long belonged to a dispatcher that died mid-send.
STALE_SEND_S = 300


def stale_after_s(settings: Settings) -> float:
    """How long a claimed row may stay 'sending' before the sweep calls its dispatcher dead:
    longer than the slowest batch (30 rows per sending thread, each a send timeout plus a
    liveness re-fetch), so a slow but living dispatcher's rows are never swept under it."""
    return max(float(STALE_SEND_S), 30 * (settings.send_timeout_s + 10.0))


METRICS_EVERY_S = 15.0


@dataclass
class StepCounts:
    glitches: int = 0
    outbox_rows: int = 0
    alert_rows: int = 0
    sends: dict[str, int] = field(default_factory=dict)

    def busy(self) -> bool:
        """Whether this pass did anything (then more may be waiting)."""
        return bool(self.glitches or self.outbox_rows or self.alert_rows or self.sends)


def run_once(pool: Any, settings: Settings, *, dispatcher: Dispatcher | None = None) -> StepCounts:
    """One pass of every step, in pipeline order (also what the DAGs call)."""
    counts = StepCounts()
    counts.glitches = len(validate_pending(pool, settings))
    counts.outbox_rows = fan_out_pending(pool, settings)
    counts.alert_rows = evaluate_alerts(pool, settings)
    sweep_stale_sends(pool, stale_after_s(settings))
    counts.sends = dispatch_due(pool, settings, dispatcher=dispatcher)
    return counts


def heartbeat(pool: Any, name: str, info: dict[str, Any]) -> None:
    with transaction(pool) as conn:
        conn.execute(
            """INSERT INTO worker_heartbeats (worker, role, beat_at, info)
               VALUES (%s, 'worker', now(), %s)
               ON CONFLICT (worker) DO UPDATE SET beat_at = now(), info = excluded.info""",
            (name, json.dumps(info)),
        )


def _no_beat() -> None:
    pass


def run_worker(
    pool: Any,
    url: str,
    settings: Settings,
    stop: threading.Event,
    *,
    idle_wake_s: float = 5.0,
    on_beat: Callable[[], None] | None = None,
) -> None:
    """Run until `stop` is set: LISTEN, and run every step on each wake-up.

    `on_beat` is called on every pass of the loop (the metrics server's liveness check).
    """
    name = f"{socket.gethostname()}:{threading.get_ident()}"
    dispatcher = Dispatcher(settings)
    try:
        _loop(pool, url, settings, stop, dispatcher, name, idle_wake_s, on_beat or _no_beat)
    finally:
        dispatcher.close()


def _loop(
    pool: Any,
    url: str,
    settings: Settings,
    stop: threading.Event,
    dispatcher: Dispatcher,
    name: str,
    idle_wake_s: float,
    on_beat: Callable[[], None],
) -> None:
    metrics_at = 0.0
    with psycopg.connect(url, autocommit=True) as listener:
        for channel in (ANOMALY_CHANNEL, GLITCH_CHANNEL, OUTBOX_CHANNEL):
            listener.execute(f"LISTEN {channel}")
        while not stop.is_set():
            on_beat()
            try:
                counts = run_once(pool, settings, dispatcher=dispatcher)
                if time.monotonic() - metrics_at > METRICS_EVERY_S:
                    heartbeat(pool, name, {"last": counts.sends})
                    refresh_outbox_metrics(pool)
                    metrics_at = time.monotonic()
                if counts.busy():
                    log.info("worker: %s", counts)
                    continue  # more may be waiting: go again before sleeping
            except psycopg.OperationalError:
                log.exception("worker: database unavailable; retrying")
                stop.wait(1.0)
            # Sleep until a NOTIFY arrives or idle_wake_s passes, whichever is first.
            for _ in listener.notifies(timeout=idle_wake_s, stop_after=1):
                break
            # Several NOTIFYs usually arrive together (anomaly, glitch, outbox): drain them.
            for _ in listener.notifies(timeout=0.0):
                pass
