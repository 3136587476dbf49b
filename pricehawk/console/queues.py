"""Redis queue depths: every key under the PriceHawk prefix, grouped by spider and kind.

scrapy-redis names its keys `<spider>:requests` (the scheduler queue), `<spider>:start_urls`,
`<spider>:dupefilter` and `<spider>:items`; our distributed crawl (pricehawk.crawl.queue) uses
`crawl:requests`, `crawl:seen:<cycle>` and `crawl:inflight:<worker>`.
Any other key is listed by its type and size, so new queues show up without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pricehawk.console.metrics import timed_query

# A runaway dupefilter per cycle could mean thousands of keys; the page needs the big ones.
MAX_KEYS = 5000
KINDS = ("requests", "start_urls", "dupefilter", "items", "seen", "inflight")
_SIZE = {"list": "llen", "zset": "zcard", "set": "scard", "hash": "hlen", "stream": "xlen"}


@dataclass(frozen=True)
class QueueDepth:
    key: str  # without the prefix
    spider: str
    kind: str
    type: str
    size: int


def classify(key: str) -> tuple[str, str]:
    """(spider, kind) of a key without the prefix: `catalog:requests` -> (catalog, requests);
    a per-cycle dupefilter `catalog:dupefilter:acme:2026...` -> (catalog, dupefilter)."""
    parts = key.split(":")
    for i, part in enumerate(parts):
        if part in KINDS and i > 0:
            return ":".join(parts[:i]), part
    return (":".join(parts[:-1]) or parts[0]), "other"


@timed_query
def queue_depths(client: Any, prefix: str) -> list[QueueDepth]:
    """Depth of every queue-like key under `prefix`, biggest first."""
    keys: list[str] = []
    for k in client.scan_iter(match=prefix + "*", count=1000):
        keys.append(k.decode() if isinstance(k, bytes) else k)
        if len(keys) >= MAX_KEYS:
            break
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.type(k)
    types = [t.decode() if isinstance(t, bytes) else t for t in pipe.execute()]
    sized = [(k, t) for k, t in zip(keys, types, strict=True) if t in _SIZE]
    pipe = client.pipeline(transaction=False)
    for k, t in sized:
        getattr(pipe, _SIZE[t])(k)
    sizes = pipe.execute()
    out = []
    for (k, t), n in zip(sized, sizes, strict=True):
        short = k[len(prefix) :]
        spider, kind = classify(short)
        out.append(QueueDepth(short, spider, kind, t, int(n)))
    return sorted(out, key=lambda q: (-q.size, q.key))


def by_spider(depths: list[QueueDepth]) -> dict[str, dict[str, int]]:
    """{spider: {kind: total size}} (pure)."""
    out: dict[str, dict[str, int]] = {}
    for q in depths:
        out.setdefault(q.spider, {}).setdefault(q.kind, 0)
        out[q.spider][q.kind] += q.size
    return out
