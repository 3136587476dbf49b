"""What a scheduled task needs: settings from its environment and a small pool, closed after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pricehawk.db import database_url, make_pool
from pricehawk.settings import Settings, load_settings


@contextmanager
def task_resources(max_size: int = 2) -> Iterator[tuple[Settings, Any]]:
    """Settings loaded from the environment (at run time, never at parse time) and a pool."""
    settings = load_settings()
    pool = make_pool(database_url(settings), min_size=1, max_size=max_size)
    try:
        yield settings, pool
    finally:
        pool.close()


def anomaly_ids_from_events(events: Any) -> list[int]:
    """Anomaly ids carried by the asset events that triggered a run (Redis messages' data)."""
    ids: set[int] = set()
    for asset_events in (events or {}).values():
        for event in asset_events:
            payload = (getattr(event, "extra", None) or {}).get("payload") or {}
            data = str(payload.get("data", "")).strip() if isinstance(payload, dict) else ""
            if data.isdigit():
                ids.add(int(data))
    return sorted(ids)
