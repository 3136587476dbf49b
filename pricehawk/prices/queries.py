"""SQL for products and price observations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pricehawk.prices.models import ScrapedProduct, StoredObservation

_UPSERT_PRODUCT = """
INSERT INTO products (retailer_id, url, title, sku, gtin, mpn, brand, category, image_url,
                      currency, last_price, last_list_price, availability, last_observed_at,
                      last_fetch_at)
SELECT r.id, %(url)s, %(title)s, %(sku)s, %(gtin)s, %(mpn)s, %(brand)s, %(category)s,
       %(image)s, %(currency)s, %(price)s, %(list_price)s, %(availability)s, %(observed_at)s,
       %(observed_at)s
FROM retailers r WHERE r.slug = %(retailer)s
ON CONFLICT (retailer_id, url) DO UPDATE SET
    title = COALESCE(excluded.title, products.title),
    sku = COALESCE(excluded.sku, products.sku),
    gtin = COALESCE(excluded.gtin, products.gtin),
    mpn = COALESCE(excluded.mpn, products.mpn),
    brand = COALESCE(excluded.brand, products.brand),
    category = COALESCE(excluded.category, products.category),
    image_url = COALESCE(excluded.image_url, products.image_url),
    currency = excluded.currency,
    -- only a newer observation moves the last known price (batches can arrive late)
    last_price = CASE WHEN products.last_observed_at IS NULL
                        OR excluded.last_observed_at >= products.last_observed_at
                      THEN excluded.last_price ELSE products.last_price END,
    last_list_price = CASE WHEN products.last_observed_at IS NULL
                        OR excluded.last_observed_at >= products.last_observed_at
                      THEN excluded.last_list_price ELSE products.last_list_price END,
    availability = CASE WHEN products.last_observed_at IS NULL
                        OR excluded.last_observed_at >= products.last_observed_at
                      THEN excluded.availability ELSE products.availability END,
    last_observed_at = GREATEST(products.last_observed_at, excluded.last_observed_at),
    last_fetch_at = GREATEST(products.last_fetch_at, excluded.last_fetch_at),
    last_fetch_error = NULL
RETURNING id, url
"""

_RECORD_FAILED_FETCH = """
INSERT INTO products (retailer_id, url, last_fetch_at, last_fetch_error)
SELECT r.id, %(url)s, %(observed_at)s, %(health)s FROM retailers r WHERE r.slug = %(retailer)s
ON CONFLICT (retailer_id, url) DO UPDATE SET
    last_fetch_at = excluded.last_fetch_at, last_fetch_error = excluded.last_fetch_error
"""

_INSERT_OBSERVATION = """
INSERT INTO price_observations (product_id, observed_at, price, list_price, currency,
                                availability, method, crawl_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (product_id, observed_at) DO NOTHING
RETURNING product_id, observed_at
"""


def _params(item: ScrapedProduct) -> dict[str, Any]:
    return {
        "retailer": item.retailer,
        "url": item.url,
        "title": item.title,
        "sku": item.sku,
        "gtin": item.gtin,
        "mpn": item.mpn,
        "brand": item.brand,
        "category": item.category,
        "image": item.image,
        "currency": item.currency,
        "price": item.price,
        "list_price": item.list_price,
        "availability": item.availability,
        "observed_at": item.observed_at,
        "health": item.health,
    }


def store_batch(conn: Any, items: Sequence[ScrapedProduct]) -> list[StoredObservation]:
    """Upsert products and append observations in one transaction; return the new ones.

    Items without a price (block pages, CAPTCHAs...) only record the failed fetch: the
    product keeps its last known good price. Re-storing the same batch inserts nothing.
    """
    priced = [i for i in items if i.has_price]
    failed = [i for i in items if not i.has_price]
    stored: list[StoredObservation] = []
    with conn.cursor() as cur:
        if failed:
            cur.executemany(_RECORD_FAILED_FETCH, [_params(i) for i in failed])
        if not priced:
            return stored
        cur.executemany(_UPSERT_PRODUCT, [_params(i) for i in priced], returning=True)
        ids: dict[str, int] = {}
        while True:
            row = cur.fetchone()
            if row is not None:
                ids[row["url"] if isinstance(row, dict) else row[1]] = (
                    row["id"] if isinstance(row, dict) else row[0]
                )
            if not cur.nextset():
                break
        rows = [
            (ids[i.url], i.observed_at, i.price, i.list_price, i.currency, i.availability,
             i.method, i.crawl_run_id)
            for i in priced
            if i.url in ids
        ]  # fmt: skip
        cur.executemany(_INSERT_OBSERVATION, rows, returning=True)
        new: set[tuple[int, datetime]] = set()
        while True:
            row = cur.fetchone()
            if row is not None:
                new.add(
                    (row["product_id"], row["observed_at"])
                    if isinstance(row, dict)
                    else (row[0], row[1])
                )
            if not cur.nextset():
                break
    for pid, at, price, list_price, currency, availability, _m, _r in rows:
        if (pid, at) in new:
            stored.append(StoredObservation(pid, at, price, list_price, currency, availability))
    return stored


def price_history(conn: Any, product_id: int, before: datetime, limit: int = 200) -> list[Any]:
    """The product's observations before `before`, oldest first (at most `limit`)."""
    rows = conn.execute(
        """
        SELECT observed_at, price, list_price, availability FROM (
            SELECT observed_at, price, list_price, availability FROM price_observations
            WHERE product_id = %s AND observed_at < %s
            ORDER BY observed_at DESC LIMIT %s) recent
        ORDER BY observed_at
        """,
        (product_id, before, limit),
    ).fetchall()
    return list(rows)
