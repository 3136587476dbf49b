"""The shared crawl queue in Redis: feeding a cycle, per-cycle de-duplication, in-flight
tracking of each worker, and recovery of a dead worker's requests.

Layout (every key under PRICEHAWK_REDIS_PREFIX):
  crawl:requests                   list of JSON requests: the one queue every worker pops from
                                   (the scrapy-redis scheduler queue)
  crawl:seen:<cycle>               set of canonical URLs already queued in that cycle
  crawl:inflight:<worker>          list of the requests a worker popped and has not finished
  crawl:alive:<worker>             heartbeat (expires when the worker stops beating)
  crawl:workers                    hash worker -> last heartbeat (epoch seconds)

A pop moves a request from the queue to the worker's in-flight list in one atomic LMOVE, so a
worker killed mid-request leaves its requests in Redis; any other worker (or the next
`queue_cycle`) moves them back once the dead worker's heartbeat has expired.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from pricehawk.crawl.decisions import canonical_url
from pricehawk.crawl.models import Seed
from pricehawk.redis_conn import connect_redis, key
from pricehawk.settings import Settings

log = logging.getLogger(__name__)

# A cycle's de-duplication set outlives any sane cycle, then goes: never across cycles.
SEEN_TTL_S = 2 * 24 * 3600
PUSH_CHUNK = 5000


def queue_key(settings: Settings) -> str:
    """The scheduler queue every worker pops from (queue_cycle and any other producer push)."""
    return key(settings, "crawl", "requests")


def seen_key(settings: Settings, cycle: str) -> str:
    """The cycle's de-duplication set."""
    return key(settings, "crawl", "seen", cycle)


def inflight_key(settings: Settings, worker: str) -> str:
    """A worker's in-flight list."""
    return key(settings, "crawl", "inflight", worker)


def alive_key(settings: Settings, worker: str) -> str:
    """A worker's heartbeat key."""
    return key(settings, "crawl", "alive", worker)


def workers_key(settings: Settings) -> str:
    """Hash of every worker that ever beat (worker -> last beat)."""
    return key(settings, "crawl", "workers")


# --- request encoding: JSON (not scrapy-redis's pickle), so non-Scrapy code can feed the queue.


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {
            str(k.decode() if isinstance(k, bytes) else k): _to_json(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b"}:
            return base64.b64decode(value["$b"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def encode_request(request: dict[str, Any]) -> str:
    """A request dict (Scrapy's Request.to_dict() or Seed.to_request_dict()) as JSON."""
    return json.dumps(_to_json(request), separators=(",", ":"), sort_keys=True)


def decode_request(payload: str | bytes) -> dict[str, Any]:
    """The request dict back from JSON."""
    value = _from_json(json.loads(payload))
    if not isinstance(value, dict):
        raise ValueError("a queued request must be a JSON object")
    return value


# --- feeding ------------------------------------------------------------------------------


def push_seeds(client: Any, settings: Settings, seeds: Sequence[Seed]) -> int:
    """Queue seeds not yet seen in their cycle, in large pipelined batches; returns how many
    were new. De-duplication is per cycle: the same URL in the next cycle is queued again."""
    pushed = 0
    for start in range(0, len(seeds), PUSH_CHUNK):
        chunk = seeds[start : start + PUSH_CHUNK]
        pipe = client.pipeline(transaction=False)
        for seed in chunk:
            pipe.sadd(seen_key(settings, seed.cycle), canonical_url(seed.url))
        added = pipe.execute()
        pipe = client.pipeline(transaction=False)
        cycles = set()
        for seed, was_new in zip(chunk, added, strict=True):
            if was_new:
                pipe.rpush(queue_key(settings), encode_request(seed.to_request_dict()))
                pushed += 1
            cycles.add(seed.cycle)
        for cycle in cycles:
            pipe.expire(seen_key(settings, cycle), SEEN_TTL_S)
        pipe.execute()
    return pushed


def cycle_seeds(
    settings: Settings, retailer_slug: str, cycle_key: str, tracked: Iterable[str]
) -> list[Seed]:
    """Start URLs, sitemaps and tracked product URLs of one retailer as seeds of a cycle."""
    from pricehawk.retailers import registry

    retailer = next((r for r in registry(settings) if r.slug == retailer_slug), None)
    if retailer is None:
        raise LookupError(f"no retailer {retailer_slug!r} in {settings.retailers_path}")
    seeds = [
        Seed(u, "catalog", "parse_listing", retailer.slug, cycle_key) for u in retailer.start_urls
    ]
    seeds += [
        Seed(u, "catalog", "parse_sitemap", retailer.slug, cycle_key) for u in retailer.sitemaps
    ]
    # Tracked pages first: a subscriber is waiting on them, the catalogue can follow.
    seeds += [
        Seed(u, "tracked", "parse_product", retailer.slug, cycle_key, priority=10) for u in tracked
    ]
    return seeds


def queue_cycle(
    settings: Settings, retailer_slug: str, cycle_key: str, *, now: datetime | None = None
) -> int:
    """Queue one retailer's cycle for the distributed workers: its start URLs, sitemaps and
    due tracked URLs, pushed in large batches. Returns how many requests were queued (0 when a
    retried call finds them already queued in this cycle). Also records the cycle as started
    (retailers.last_crawl_at) and hands a dead worker's in-flight requests back to the queue."""
    from pricehawk import db
    from pricehawk.crawl.queries import mark_queued, tracked_urls

    now = now or datetime.now(UTC)
    with db.connect(db.database_url(settings)) as conn:
        urls = tracked_urls(conn, retailer_slug)
        row = conn.execute(
            "SELECT circuit_state FROM retailers WHERE slug = %s", (retailer_slug,)
        ).fetchone()
        mark_queued(
            conn, retailer_slug, now, half_open=bool(row and row["circuit_state"] == "open")
        )
        conn.commit()
    client = connect_redis(settings)
    try:
        reap_dead_workers(client, settings)
        return push_seeds(client, settings, cycle_seeds(settings, retailer_slug, cycle_key, urls))
    finally:
        client.close()


def queue_depth(client: Any, settings: Settings) -> int:
    """Requests waiting in the shared queue."""
    return int(client.llen(queue_key(settings)))


# --- workers ------------------------------------------------------------------------------


def new_worker_id(host: str, pid: int) -> str:
    """A worker id unique across restarts of the same pid."""
    return f"{host}-{pid}-{uuid.uuid4().hex[:6]}"


def heartbeat(client: Any, settings: Settings, worker: str, ttl_s: int) -> None:
    """Say this worker is alive for the next `ttl_s` seconds."""
    now = datetime.now(UTC).timestamp()
    pipe = client.pipeline(transaction=False)
    pipe.set(alive_key(settings, worker), str(now), ex=max(1, ttl_s))
    pipe.hset(workers_key(settings), worker, str(now))
    pipe.execute()


def retire(client: Any, settings: Settings, worker: str) -> int:
    """A worker leaving cleanly: hand back anything still in flight, drop its heartbeat.
    Never touches the shared queue (a closing worker must not flush other workers' work)."""
    returned = _requeue(client, settings, worker)
    client.delete(alive_key(settings, worker))
    client.hdel(workers_key(settings), worker)
    return returned


def _requeue(client: Any, settings: Settings, worker: str) -> int:
    """Move a worker's in-flight list back to the front of the queue (atomically claimed by
    RENAME, so two reapers never requeue the same requests twice)."""
    source = inflight_key(settings, worker)
    claimed = key(settings, "crawl", "reaping", worker, uuid.uuid4().hex[:8])
    try:
        client.rename(source, claimed)
    except redis.ResponseError as exc:
        if "no such key" in str(exc).lower():
            return 0
        raise
    items = client.lrange(claimed, 0, -1)
    if items:
        # Front of the queue: these were popped first, they go out first again.
        client.lpush(queue_key(settings), *reversed(items))
    client.delete(claimed)
    return len(items)


def reap_dead_workers(client: Any, settings: Settings) -> int:
    """Requeue the in-flight requests of every worker whose heartbeat has expired."""
    returned = 0
    for worker in list(client.hkeys(workers_key(settings))):
        if client.exists(alive_key(settings, worker)):
            continue
        n = _requeue(client, settings, worker)
        if n:
            log.warning("requeued %s in-flight requests of dead worker %s", n, worker)
        returned += n
        client.hdel(workers_key(settings), worker)
    return returned


def others_in_flight(client: Any, settings: Settings, worker: str) -> int:
    """Requests other live workers hold (they may still discover more pages)."""
    return sum(
        int(client.llen(inflight_key(settings, other)))
        for other in client.hkeys(workers_key(settings))
        if other != worker
    )


def normalise_payload(request: dict[str, Any]) -> dict[str, Any]:
    """Accept the short form other producers push ({"url", "meta": {"retailer",
    "cycle_key", "kind": "listing"|"sitemap"|"product"}}) as well as full request dicts."""
    if request.get("callback"):
        return request
    meta = dict(request.get("meta") or {})
    retailer = meta.get("retailer", "")
    cycle = meta.get("cycle") or meta.get("cycle_key") or ""
    kind = meta.get("kind", "product")
    callback = {"listing": "parse_listing", "sitemap": "parse_sitemap"}.get(kind, "parse_product")
    return Seed(request["url"], "", callback, retailer, cycle).to_request_dict()
