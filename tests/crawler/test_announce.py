"""The pipeline announces flagged anomalies on Redis (for the Airflow AssetWatcher)."""

from __future__ import annotations

import time

from scrapy.utils.test import get_crawler

from crawler.pipelines import StorePipeline
from pricehawk.redis_conn import connect_redis, key
from pricehawk.settings import Settings


def test_anomalies_are_published_in_order_with_one_client(settings: Settings) -> None:
    listener = connect_redis(settings).pubsub()
    listener.subscribe(key(settings, "anomalies"))
    assert listener.get_message(timeout=2)["type"] == "subscribe"
    pipeline = StorePipeline.from_crawler(
        get_crawler(settings_dict={"PRICEHAWK_SETTINGS": settings})
    )
    pipeline._announce([3, 1, 2])
    client = pipeline.redis
    pipeline._announce([7])
    assert pipeline.redis is client  # no new connection per batch
    got: list[str] = []
    deadline = time.monotonic() + 5
    while len(got) < 4 and time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
        if message and message["type"] == "message":
            got.append(message["data"])
    assert got == ["3", "1", "2", "7"]
    client.close()
    listener.close()
