"""Pipeline batch writes: `store_batch` (product upsert + observation append, returning the new
observations, one statement per batch) against the bare append of the same observations
(INSERT ... SELECT FROM unnest into price_observations, product ids known, nothing returned),
interleaved per round in one throwaway database. Also prints the previous row-at-a-time
implementation (executemany) on the same batches. Figure: items stored per second.
Run:  .venv/bin/python benchmarks/bench_store.py [--products N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from _crawlbench import bench_database

from pricehawk import db
from pricehawk.prices.models import ScrapedProduct
from pricehawk.prices.queries import store_batch

BATCH = 200  # the pipeline's PRICEHAWK_BATCH_SIZE

_OLD_UPSERT = """
INSERT INTO products (retailer_id, url, title, sku, gtin, currency, last_price, last_list_price,
                      availability, last_observed_at, last_fetch_at)
SELECT r.id, %(url)s, %(title)s, %(sku)s, %(gtin)s, %(currency)s, %(price)s, %(list_price)s,
       %(availability)s, %(observed_at)s, %(observed_at)s
FROM retailers r WHERE r.slug = %(retailer)s
ON CONFLICT (retailer_id, url) DO UPDATE SET
    title = COALESCE(excluded.title, products.title), currency = excluded.currency,
    last_price = CASE WHEN products.last_observed_at IS NULL
                        OR excluded.last_observed_at >= products.last_observed_at
                      THEN excluded.last_price ELSE products.last_price END,
    last_observed_at = GREATEST(products.last_observed_at, excluded.last_observed_at),
    last_fetch_at = GREATEST(products.last_fetch_at, excluded.last_fetch_at),
    last_fetch_error = NULL
RETURNING id, url
"""
_OLD_INSERT = """
INSERT INTO price_observations (product_id, observed_at, price, list_price, currency,
                                availability, method, crawl_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (product_id, observed_at) DO NOTHING
RETURNING product_id, observed_at
"""


def old_store_batch(conn: Any, items: Sequence[ScrapedProduct]) -> int:
    """The previous implementation: one upsert and one insert per item (executemany)."""
    with conn.cursor() as cur:
        cur.executemany(
            _OLD_UPSERT,
            [{**i.__dict__, "price": i.price} for i in items],
            returning=True,
        )
        ids: dict[str, int] = {}
        while True:
            row = cur.fetchone()
            if row is not None:
                ids[row["url"]] = row["id"]
            if not cur.nextset():
                break
        rows = [(ids[i.url], i.observed_at, i.price, i.list_price, i.currency, i.availability,
                 i.method, i.crawl_run_id) for i in items]  # fmt: skip
        cur.executemany(_OLD_INSERT, rows, returning=True)
        n = 0
        while True:
            n += cur.fetchone() is not None
            if not cur.nextset():
                break
    return n


def bare_append(conn: Any, items: Sequence[ScrapedProduct], ids: dict[str, int]) -> None:
    """The floor: the observations alone, one multi-row INSERT, nothing returned."""
    conn.execute(
        """INSERT INTO price_observations (product_id, observed_at, price, currency)
           SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::numeric[], %s::text[])""",
        (
            [ids[i.url] for i in items],
            [i.observed_at for i in items],
            [i.price for i in items],
            [i.currency for i in items],
        ),
    )


def batches(n: int, start: datetime) -> list[list[ScrapedProduct]]:
    """One crawl cycle: every product once, observed a second apart, in pipeline batches."""
    items = [
        ScrapedProduct(
            retailer="bench",
            url=f"http://bench.example/p/{i}",
            observed_at=start + timedelta(seconds=i),
            price=Decimal(100 + i % 50) + Decimal("0.99"),
            currency="USD",
            availability="in_stock",
            title=f"Product {i}",
            sku=f"SKU-{i}",
            gtin=f"{4000000000000 + i}",
            method="json-ld",
        )
        for i in range(n)
    ]
    return [items[k : k + BATCH] for k in range(0, n, BATCH)]


def timed(url: str, work: Callable[[Any, list[ScrapedProduct]], Any], cycle: list[Any]) -> float:
    """Seconds to write one cycle, a transaction per batch (as the pipeline does)."""
    with db.connect(url) as conn:
        began = time.perf_counter()
        for batch in cycle:
            with conn.transaction():
                work(conn, batch)
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"ours": [], "bare": [], "old": []}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with bench_database("store") as url:
        with db.connect(url) as conn:
            conn.execute("INSERT INTO retailers (slug, name) VALUES ('bench', 'Bench')")
            conn.commit()
        # products exist from round 0 on: every round is a revisit, as in production
        timed(url, store_batch, batches(args.products, t0))
        with db.connect(url) as conn:
            ids = {r["url"]: r["id"] for r in conn.execute("SELECT id, url FROM products")}
        for i in range(args.rounds):
            base = t0 + timedelta(days=1 + i)
            ours = timed(url, store_batch, batches(args.products, base))
            bare = timed(
                url,
                lambda c, b: bare_append(c, b, ids),
                batches(args.products, base + timedelta(hours=6)),
            )
            old = timed(url, old_store_batch, batches(args.products, base + timedelta(hours=12)))
            for name, seconds in (("ours", ours), ("bare", bare), ("old", old)):
                rates[name].append(args.products / seconds)
            print(
                f"round {i + 1}: ours {rates['ours'][-1]:.0f}/s, bare {rates['bare'][-1]:.0f}/s,"
                f" previous {rates['old'][-1]:.0f}/s",
                flush=True,
            )
    ratios = [o / b for o, b in zip(rates["ours"], rates["bare"], strict=True)]
    print(f"{args.products} products x {args.rounds} rounds, batches of {BATCH}")
    print(
        f"single rounds: ours {min(rates['ours']):.0f}..{max(rates['ours']):.0f}/s, bare"
        f" {min(rates['bare']):.0f}..{max(rates['bare']):.0f}/s, ratio {min(ratios):.2f}.."
        f"{max(ratios):.2f} (median {statistics.median(ratios):.2f})"
    )
    old_best = max(rates["old"])
    print(
        f"previous implementation (executemany): {old_best:.0f} items/s best;"
        f" ours x{max(rates['ours']) / old_best:.1f}"
    )
    ours_v, bare_v = max(rates["ours"]), max(rates["bare"])
    print(
        f"store_batch throughput: {ours_v:.0f} items/s "
        f"(baseline {bare_v:.0f} items/s, ratio {ours_v / bare_v:.2f})"
    )


if __name__ == "__main__":
    main()
