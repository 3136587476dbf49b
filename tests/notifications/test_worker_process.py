"""`pricehawk worker` as a process: health and metrics endpoints, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_serves_health_and_metrics_and_stops_on_sigterm(settings: Any) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "PRICEHAWK_HOME": str(settings.home),
        "PRICEHAWK_REDIS_PREFIX": settings.redis_prefix,
        "PRICEHAWK_METRICS_ADDR": "127.0.0.1",
    }
    command = [sys.executable, "-m", "pricehawk.cli.main", "worker", "--idle-wake", "0.2",
               "--metrics-port", str(port)]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        assert health is not None and health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "pricehawk_build_info{" in body and 'process="worker"' in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
