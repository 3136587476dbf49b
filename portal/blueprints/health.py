"""Health endpoints: /healthz (alive), /readyz (database and Redis), /healthz/deep (also the
worker's heartbeat and the last crawl), /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from portal import probes
from portal.web import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Alive: the process serves requests (no dependency is checked here)."""
    return jsonify(status="ok")


def _report(checks: dict[str, tuple[bool, str]]) -> ResponseReturnValue:
    ok = all(passed for passed, _ in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {
            name: {"ok": passed, "detail": detail} for name, (passed, detail) in checks.items()
        },
    }
    return jsonify(body), 200 if ok else 503


def _dependencies() -> tuple[dict[str, tuple[bool, str]], Any]:
    """The database and Redis checks, and the pool when the database answered."""
    svc = services()
    pool: Any = None
    try:
        pool = svc.pool
        database = probes.check_database(pool)
    except Exception as exc:  # noqa: BLE001 - no pool: not ready
        database = (False, type(exc).__name__)
    try:
        cache = probes.check_redis(svc.redis)
    except Exception as exc:  # noqa: BLE001
        cache = (False, type(exc).__name__)
    return {"database": database, "redis": cache}, pool if database[0] else None


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready: the database and Redis answer (503 otherwise)."""
    return _report(_dependencies()[0])


@bp.get("/healthz/deep")
def deep() -> ResponseReturnValue:
    """Ready, and the pipeline is moving: a recent worker heartbeat and a recent crawl."""
    checks, pool = _dependencies()
    if pool is not None:
        checks["worker"] = probes.check_worker(pool)
        checks["crawl"] = probes.check_crawl(pool)
    else:
        checks["worker"] = checks["crawl"] = (False, "database unavailable")
    return _report(checks)


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Prometheus metrics of this process (requests by route and status, latency)."""
    return Response(generate_latest(services().registry), content_type=CONTENT_TYPE_LATEST)
