"""SQL for products and price observations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import tuple_row

from pricehawk.prices.models import ScrapedProduct, StoredObservation

# One statement, one round trip, for a whole batch: the products (one row per page, folded in
# Python so no row is touched twice) are upserted from arrays, and the observations are appended
# for the ids that upsert returned. A data-modifying CTE's rows are visible to the main INSERT
# through RETURNING, and the foreign key is checked at the end of the statement.
_STORE = """
WITH batch AS (
    SELECT * FROM unnest(
        %(retailer)s::text[], %(url)s::text[], %(title)s::text[], %(sku)s::text[],
        %(gtin)s::text[], %(mpn)s::text[], %(brand)s::text[], %(category)s::text[],
        %(image)s::text[], %(currency)s::text[], %(price)s::numeric[],
        %(list_price)s::numeric[], %(availability)s::text[], %(observed_at)s::timestamptz[],
        %(fetch_at)s::timestamptz[], %(fetch_error)s::text[]
    ) AS b(retailer, url, title, sku, gtin, mpn, brand, category, image, currency, price,
           list_price, availability, observed_at, fetch_at, fetch_error)
), upserted AS (
    INSERT INTO products AS p (retailer_id, url, title, sku, gtin, mpn, brand, category,
                               image_url, currency, last_price, last_list_price, availability,
                               last_observed_at, last_fetch_at, last_fetch_error)
    SELECT r.id, b.url, b.title, b.sku, b.gtin, b.mpn, b.brand, b.category, b.image,
           b.currency, b.price, b.list_price, b.availability, b.observed_at, b.fetch_at,
           b.fetch_error
    FROM batch b JOIN retailers r ON r.slug = b.retailer
    ON CONFLICT (retailer_id, url) DO UPDATE SET
        title = COALESCE(excluded.title, p.title),
        sku = COALESCE(excluded.sku, p.sku),
        gtin = COALESCE(excluded.gtin, p.gtin),
        mpn = COALESCE(excluded.mpn, p.mpn),
        brand = COALESCE(excluded.brand, p.brand),
        category = COALESCE(excluded.category, p.category),
        image_url = COALESCE(excluded.image_url, p.image_url),
        -- only a newer price moves the last known one (batches can arrive late); a failed
        -- fetch has no price at all, so the last known good price stays
        currency = CASE WHEN excluded.last_observed_at >= p.last_observed_at
                          OR (p.last_observed_at IS NULL AND excluded.last_price IS NOT NULL)
                        THEN excluded.currency ELSE p.currency END,
        last_price = CASE WHEN excluded.last_observed_at >= p.last_observed_at
                            OR (p.last_observed_at IS NULL AND excluded.last_price IS NOT NULL)
                          THEN excluded.last_price ELSE p.last_price END,
        last_list_price = CASE WHEN excluded.last_observed_at >= p.last_observed_at
                                 OR (p.last_observed_at IS NULL
                                     AND excluded.last_price IS NOT NULL)
                               THEN excluded.last_list_price ELSE p.last_list_price END,
        availability = CASE WHEN excluded.last_observed_at >= p.last_observed_at
                              OR (p.last_observed_at IS NULL
                                  AND excluded.last_price IS NOT NULL)
                            THEN excluded.availability ELSE p.availability END,
        last_observed_at = GREATEST(p.last_observed_at, excluded.last_observed_at),
        -- the latest fetch says whether the page is failing now
        last_fetch_error = CASE WHEN p.last_fetch_at IS NULL
                                  OR excluded.last_fetch_at >= p.last_fetch_at
                                THEN excluded.last_fetch_error ELSE p.last_fetch_error END,
        last_fetch_at = GREATEST(p.last_fetch_at, excluded.last_fetch_at)
    RETURNING p.id, p.retailer_id, p.url
)
INSERT INTO price_observations (product_id, observed_at, price, list_price, currency,
                                availability, method, crawl_run_id)
SELECT u.id, o.observed_at, o.price, o.list_price, o.currency, o.availability, o.method,
       o.crawl_run_id
FROM unnest(
    %(o_retailer)s::text[], %(o_url)s::text[], %(o_observed_at)s::timestamptz[],
    %(o_price)s::numeric[], %(o_list_price)s::numeric[], %(o_currency)s::text[],
    %(o_availability)s::text[], %(o_method)s::text[], %(o_crawl_run_id)s::bigint[]
) AS o(retailer, url, observed_at, price, list_price, currency, availability, method,
       crawl_run_id)
JOIN retailers r ON r.slug = o.retailer
JOIN upserted u ON u.retailer_id = r.id AND u.url = o.url
ON CONFLICT (product_id, observed_at) DO NOTHING
RETURNING product_id, observed_at, price, list_price, currency, availability
"""

_PRODUCT_FIELDS = ("title", "sku", "gtin", "mpn", "brand", "category", "image")


def fold_products(items: Sequence[ScrapedProduct]) -> list[dict[str, Any]]:
    """One row per (retailer, url) for the products upsert, as if the items were applied in
    batch order: descriptive fields take the last value given, the price fields come from the
    newest priced item, the fetch status from the newest item of all (a failed fetch carries
    no price, so it never replaces the last known good one)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        row = rows.get((item.retailer, item.url))
        if row is None:
            row = rows[(item.retailer, item.url)] = {
                "retailer": item.retailer,
                "url": item.url,
                **dict.fromkeys(_PRODUCT_FIELDS),
                "currency": None,
                "price": None,
                "list_price": None,
                "availability": None,
                "observed_at": None,
                "fetch_at": None,
                "fetch_error": None,
            }
        if row["fetch_at"] is None or item.observed_at >= row["fetch_at"]:
            row["fetch_at"] = item.observed_at
            row["fetch_error"] = None if item.has_price else item.health
        if not item.has_price:
            continue
        for name in _PRODUCT_FIELDS:
            value = getattr(item, name)
            if value is not None:
                row[name] = value
        if row["observed_at"] is None or item.observed_at >= row["observed_at"]:
            row["observed_at"] = item.observed_at
            row["price"] = item.price
            row["list_price"] = item.list_price
            row["currency"] = item.currency
            row["availability"] = item.availability
    return list(rows.values())


def _columns(rows: Sequence[Any], names: Sequence[str], prefix: str = "") -> dict[str, list[Any]]:
    return {prefix + n: [r[n] if isinstance(r, dict) else getattr(r, n) for r in rows]
            for n in names}  # fmt: skip


def store_batch(conn: Any, items: Sequence[ScrapedProduct]) -> list[StoredObservation]:
    """Upsert products and append observations in one statement; return the new ones.

    Items without a price (block pages, CAPTCHAs...) only record the failed fetch: the
    product keeps its last known good price. Re-storing the same batch inserts nothing.
    """
    if not items:
        return []
    products = fold_products(items)
    priced = [i for i in items if i.has_price]
    params = _columns(products, ["retailer", "url", *_PRODUCT_FIELDS, "currency", "price",
                                 "list_price", "availability", "observed_at", "fetch_at",
                                 "fetch_error"])  # fmt: skip
    params |= _columns(priced, ["retailer", "url", "observed_at", "price", "list_price",
                                "currency", "availability", "method", "crawl_run_id"],
                       prefix="o_")  # fmt: skip
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(_STORE, params)
        new: dict[tuple[int, datetime], StoredObservation] = {}
        for pid, at, price, list_price, currency, availability in cur.fetchall():
            new[(pid, at)] = StoredObservation(pid, at, price, list_price, currency, availability)
    # Oldest first (RETURNING has no order of its own).
    return sorted(new.values(), key=lambda o: (o.observed_at, o.product_id))


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
