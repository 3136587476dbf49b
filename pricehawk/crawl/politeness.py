"""Per-retailer politeness shared by every worker through Redis.

Each retailer has one "next free time" in Redis; before a download a worker reserves the next
slot with one atomic script (the same rule as `decisions.next_free_slot`) and waits until then.
So a retailer with `download_delay_s: 1` sees one request a second from the whole cluster,
however many workers run. The delay is multiplied by the retailer's slowdown factor, which
rises while the retailer serves block pages.
"""

from __future__ import annotations

from typing import Any

from pricehawk.redis_conn import key
from pricehawk.settings import Settings

# KEYS[1] = next-free time; ARGV = now, delay. Returns the wait in milliseconds.
_RESERVE = """
local now = tonumber(ARGV[1])
local delay = tonumber(ARGV[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, free)
redis.call('SET', KEYS[1], tostring(start + delay), 'PX', math.ceil(delay * 1000) + 60000)
return math.floor((start - now) * 1000)
"""


def slot_key(settings: Settings, retailer: str) -> str:
    """The retailer's next-free-time key."""
    return key(settings, "crawl", "slot", retailer)


def slowdown_key(settings: Settings, retailer: str) -> str:
    """The retailer's current slowdown factor (absent: 1)."""
    return key(settings, "crawl", "slowdown", retailer)


def reserve_slot(client: Any, settings: Settings, retailer: str, delay_s: float) -> float:
    """Reserve this worker's next request to `retailer`; returns seconds to wait first.

    Uses Redis's clock (TIME), not ours, so workers on machines with skewed clocks agree."""
    if delay_s <= 0:
        return 0.0
    seconds, micros = client.time()
    now = float(seconds) + float(micros) / 1e6
    waited = client.eval(_RESERVE, 1, slot_key(settings, retailer), repr(now), repr(delay_s))
    return float(waited) / 1000.0


def set_slowdown(client: Any, settings: Settings, retailer: str, factor: float) -> None:
    """Publish a retailer's slowdown factor to every worker."""
    if factor <= 1.0:
        client.delete(slowdown_key(settings, retailer))
    else:
        client.set(slowdown_key(settings, retailer), repr(factor), ex=24 * 3600)


def get_slowdown(client: Any, settings: Settings, retailer: str) -> float:
    """A retailer's current slowdown factor (1 when none was set)."""
    value = client.get(slowdown_key(settings, retailer))
    return max(1.0, float(value)) if value else 1.0
