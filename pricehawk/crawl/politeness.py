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


# Per-retailer concurrency across every worker: a sorted set of lease ids scored by their
# expiry (Redis's clock). A worker killed mid-download never releases its lease; it simply
# stops counting once its score has passed, so a dead worker blocks its retailer for at most
# one lease TTL. KEYS[1] = the retailer's lease set; ARGV = lease id, limit, ttl in ms.
# Returns 1 when the lease is held (taken now or already ours), 0 when the retailer is full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl + 60000)
return 1
"""


def lease_key(settings: Settings, retailer: str) -> str:
    """The retailer's set of live download leases (members: lease ids, scores: expiry ms)."""
    return key(settings, "crawl", "leases", retailer)


class RetailerLeases:
    """Redis-wide per-retailer concurrency: at most `limit` downloads in flight per retailer
    across all workers, each holding a lease that expires unless released."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, retailer: str, lease_id: str, limit: int, ttl_s: float) -> bool:
        """Take (or refresh) a lease expiring in `ttl_s`; False while the retailer is full."""
        keys = [lease_key(self.settings, retailer)]
        ttl_ms = max(1, int(ttl_s * 1000))
        return bool(self._acquire(keys=keys, args=[lease_id, max(1, limit), ttl_ms]))

    def release(self, retailer: str, lease_id: str) -> None:
        """Give a lease back (a no-op when it has already expired or been released)."""
        self.client.zrem(lease_key(self.settings, retailer), lease_id)

    def holders(self, retailer: str) -> list[str]:
        """Lease ids currently counted against the retailer (expired ones excluded)."""
        seconds, micros = self.client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        members = self.client.zrangebyscore(lease_key(self.settings, retailer), now_ms, "+inf")
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]
