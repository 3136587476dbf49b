"""store_batch's contract, on the real database: one statement per batch, only new
observations returned, a failed fetch never replaces the last known good price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pricehawk.prices.models import ScrapedProduct
from pricehawk.prices.queries import fold_products, store_batch

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "http://shop.example/p/1"


def item(minutes: float = 0, price: str | None = "10.00", **fields: Any) -> ScrapedProduct:
    values: dict[str, Any] = {
        "retailer": "storetest",
        "url": URL,
        "observed_at": T0 + timedelta(minutes=minutes),
        "price": Decimal(price) if price is not None else None,
        "currency": "USD" if price is not None else None,
        "health": "ok" if price is not None else "captcha",
    }
    values.update(fields)
    return ScrapedProduct(**values)


@pytest.fixture()
def shop(conn: Any) -> Any:
    conn.execute("INSERT INTO retailers (slug, name) VALUES ('storetest', 'Store test')")
    return conn


def _product(conn: Any, url: str = URL) -> dict[str, Any]:
    row = conn.execute(
        """SELECT p.*, (SELECT count(*) FROM price_observations o WHERE o.product_id = p.id) AS n
           FROM products p WHERE url = %s""",
        (url,),
    ).fetchone()
    assert row is not None
    return dict(row)


def test_new_observations_only_and_a_second_store_adds_nothing(shop: Any) -> None:
    batch = [
        item(0, "10.00", title="Kettle", gtin="0123456789012"),
        item(1, "9.50"),
        item(0, "20.00", url="http://shop.example/p/2", list_price=Decimal("25.00")),
    ]
    stored = store_batch(shop, batch)
    assert sorted((o.observed_at, o.price) for o in stored) == [
        (T0, Decimal("10.00")),
        (T0, Decimal("20.00")),
        (T0 + timedelta(minutes=1), Decimal("9.50")),
    ]
    second = next(o for o in stored if o.price == Decimal("20.00"))
    assert second.list_price == Decimal("25.00") and second.currency == "USD"
    assert store_batch(shop, batch) == []  # a retried batch stores nothing twice
    product = _product(shop)
    assert product["n"] == 2 and product["last_price"] == Decimal("9.50")
    assert product["title"] == "Kettle" and product["gtin"] == "0123456789012"


def test_failed_fetch_keeps_the_last_good_price_and_records_why(shop: Any) -> None:
    store_batch(shop, [item(0, "10.00", title="Kettle")])
    assert store_batch(shop, [item(5, None, health="captcha")]) == []
    product = _product(shop)
    assert product["last_price"] == Decimal("10.00") and product["currency"] == "USD"
    assert product["last_fetch_error"] == "captcha" and product["n"] == 1
    assert product["last_fetch_at"] == T0 + timedelta(minutes=5)
    assert product["last_observed_at"] == T0
    store_batch(shop, [item(10, "11.00")])  # recovered: the error clears
    product = _product(shop)
    assert product["last_fetch_error"] is None and product["last_price"] == Decimal("11.00")


def test_a_late_batch_never_moves_the_last_price_back(shop: Any) -> None:
    store_batch(shop, [item(10, "12.00")])
    stored = store_batch(shop, [item(0, "10.00"), item(1, None)])
    assert [o.price for o in stored] == [Decimal("10.00")]  # history still gains it
    product = _product(shop)
    assert product["last_price"] == Decimal("12.00") and product["n"] == 2
    assert product["last_fetch_error"] is None  # the newest fetch (minute 10) was good


def test_a_page_never_fetched_well_is_recorded_without_a_price(shop: Any) -> None:
    assert store_batch(shop, [item(0, None, health="login_wall")]) == []
    product = _product(shop)
    assert product["last_price"] is None and product["last_fetch_error"] == "login_wall"


def test_unknown_retailers_are_skipped(shop: Any) -> None:
    assert store_batch(shop, [item(0, retailer="nobody")]) == []
    assert store_batch(shop, []) == []


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        # the newest priced item sets the price, whatever the batch order
        ([item(2, "3.00"), item(1, "2.00")], {"price": Decimal("3.00"), "fetch_error": None}),
        # a newer failure is the fetch status, the older good price stays the price
        ([item(1, "2.00"), item(2, None)], {"price": Decimal("2.00"), "fetch_error": "captcha"}),
        # descriptive fields: the last value given
        ([item(1, title="A"), item(2, title=None), item(3, title="C")], {"title": "C"}),
        ([item(1, title="A"), item(2, None, title="Blocked")], {"title": "A"}),
        ([item(1, None)], {"price": None, "observed_at": None, "fetch_error": "captcha"}),
    ],
)
def test_fold_products(batch: list[ScrapedProduct], expected: dict[str, Any]) -> None:
    (row,) = fold_products(batch)
    assert {k: row[k] for k in expected} == expected
