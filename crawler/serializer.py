"""The scheduler queue's serializer (SCHEDULER_SERIALIZER): JSON, shared with pricehawk.crawl,
so the DAGs can feed the queue without Scrapy (scrapy-redis defaults to pickle)."""

from __future__ import annotations

from typing import Any

from pricehawk.crawl.queue import decode_request, encode_request, normalise_payload


def dumps(obj: dict[str, Any]) -> str:
    """A Request.to_dict() as JSON."""
    return encode_request(obj)


def loads(payload: str | bytes) -> dict[str, Any]:
    """A queued request (full or short form) as a dict request_from_dict accepts."""
    return normalise_payload(decode_request(payload))
