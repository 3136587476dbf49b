"""From a glitch's observation being written to its delivery to a Pro subscriber, with the
worker running (`run_worker`, woken by NOTIFY; it also wakes every 5 s on its own).

Each round writes a product's glitch price the way the crawler's pipeline does (store the
observation and flag it in one transaction; the anomaly's NOTIFY wakes the worker), then waits
until the Pro subscriber's Telegram stand-in has the message. 1,000 other subscribers of every
tier are fanned out to as well (1 in 20 of them Pro, so about 50 immediate sends go out with
each glitch; bulk sending is bench_dispatch's figure). Baseline: the same steps run inline
right after the write (no worker, no wake-up hop). Usage: bench_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from _notifybench import ROOT, bench_database, seed_subscribers

from pricehawk import db
from pricehawk.detection.service import flag_observations
from pricehawk.prices.models import ScrapedProduct
from pricehawk.prices.queries import store_batch
from pricehawk.settings import Settings, load_settings
from pricehawk.worker import run_once, run_worker
from sandbox.telegram import TelegramStandIn

PRO_CHAT = "777000"


def write_glitch(pool: Any) -> tuple[str, datetime]:
    """A product with ten days at 199.00, then 19.90: stored and flagged as the pipeline does."""
    url = f"https://shop.test/p/{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)

    def item(price: str, at: datetime) -> ScrapedProduct:
        return ScrapedProduct(
            retailer="shop", url=url, observed_at=at, price=Decimal(price), currency="USD",
            availability="in_stock", title="Latency gadget", category="electronics",
        )  # fmt: skip

    with db.transaction(pool) as conn:
        store_batch(conn, [item("199.00", now - timedelta(days=d)) for d in range(10, 0, -1)])
    observed = datetime.now(UTC)
    with db.transaction(pool) as conn:
        flag_observations(conn, store_batch(conn, [item("19.90", observed)]))
    return url, observed


def wait_delivered(stand_in: TelegramStandIn, count: int, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivered = [r for r in stand_in.deliveries() if r.extra.get("to") == PRO_CHAT]
        if len(delivered) >= count:
            return time.time()
        time.sleep(0.005)
    raise TimeoutError("the Pro subscriber was not told within a minute")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    telegram = TelegramStandIn().start()
    try:
        with bench_database("latency") as url:
            settings: Settings = dataclasses.replace(
                load_settings({}, home=ROOT / ".pricehawk-bench" / "home"),
                database_url=url,
                telegram_bot_token=telegram.token,
                telegram_api_base=telegram.url,
                channel_rates_raw="",
            )
            pool = db.make_pool(url, min_size=2, max_size=5)
            with db.connect(url, autocommit=True) as conn:
                conn.execute("INSERT INTO retailers (slug, name) VALUES ('shop', 'Shop')")
                seed_subscribers(
                    conn,
                    1000,
                    channel_sql="SELECT id AS user_id, 'telegram' AS kind, id::text AS address"
                    " FROM users",
                )
                # 1 in 20 is Pro: the others wait their tier's delay (bench_dispatch measures
                # bulk sending; this measures how fast the pipeline hands a glitch to Pro)
                conn.execute(
                    """UPDATE users SET tier = CASE WHEN id %% 20 = 0 THEN 'pro'
                                                   WHEN id %% 2 = 0 THEN 'starter'
                                                   ELSE 'free' END""".replace("%%", "%")
                )
                conn.execute(
                    """WITH u AS (INSERT INTO users (email, tier, email_verified_at)
                                  VALUES ('pro@example.test', 'pro', now()) RETURNING id)
                       INSERT INTO notification_channels (user_id, kind, address, verified_at)
                       SELECT id, 'telegram', %s, now() FROM u""",
                    (PRO_CHAT,),
                )
            told = 0
            inline: list[float] = []
            for round_ in range(1 + max(3, args.rounds // 4)):
                _, observed = write_glitch(pool)
                while run_once(pool, settings).busy():
                    pass
                told += 1
                took = wait_delivered(telegram, told) - observed.timestamp()
                if round_:  # the first round warms caches and connections up
                    inline.append(took)
            stop = threading.Event()
            worker = threading.Thread(target=run_worker, args=(pool, url, settings, stop))
            worker.start()
            time.sleep(1.0)  # the worker is listening
            latencies: list[float] = []
            try:
                for _ in range(args.rounds):
                    _, observed = write_glitch(pool)
                    told += 1
                    latencies.append(wait_delivered(telegram, told) - observed.timestamp())
                    time.sleep(0.2)
            finally:
                stop.set()
                worker.join(30)
                pool.close()
        ours, floor = p99(latencies), p99(inline)
        print(f"rounds: {args.rounds}; p50 {statistics.median(latencies):.3f} s;"
              f" all: {[round(x, 3) for x in latencies]}")  # fmt: skip
        print(
            f"pro delivery latency p99: {ours:.3f} s"
            f" (baseline {floor:.3f} s, ratio {floor / ours:.2f})"
        )
    finally:
        telegram.stop()


if __name__ == "__main__":
    main()
