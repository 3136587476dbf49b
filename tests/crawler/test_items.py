"""ScrapedProduct.from_extraction: the one place an extraction becomes an item."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pricehawk.extraction.models import ExtractionResult
from pricehawk.prices.models import ScrapedProduct

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("health", "price", "list_price"),
    [("ok", Decimal("9.99"), Decimal("19.99")), ("blocked", None, None), ("captcha", None, None)],
)
def test_from_extraction_carries_a_price_only_when_healthy(
    health: str, price: Decimal | None, list_price: Decimal | None
) -> None:
    result = ExtractionResult(
        url="http://shop/p/1",
        title="Kettle",
        price=Decimal("9.99"),
        list_price=Decimal("19.99"),
        currency="EUR",
        availability="in_stock",
        sku="K1",
        gtin="4006381333931",
        mpn="M1",
        brand="Acme",
        image="http://shop/k.png",
        method="jsonld",
        health=health,
    )
    item = ScrapedProduct.from_extraction(
        result, retailer="acme", url="http://shop/p/1?x", observed_at=NOW, category="kitchen"
    )
    assert (item.health, item.price, item.list_price) == (health, price, list_price)
    assert (item.retailer, item.url, item.observed_at, item.category) == (
        "acme",
        "http://shop/p/1?x",
        NOW,
        "kitchen",
    )
    assert (item.currency, item.title, item.sku, item.gtin, item.mpn, item.brand) == (
        "EUR",
        "Kettle",
        "K1",
        "4006381333931",
        "M1",
        "Acme",
    )
    assert (item.availability, item.image, item.method) == (
        "in_stock",
        "http://shop/k.png",
        "jsonld",
    )
