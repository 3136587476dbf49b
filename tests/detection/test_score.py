"""The detector's decisions on plain histories (docs/detection.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pricehawk.detection import MarketContext, PricePoint, ProductInfo, score
from pricehawk.detection.service import default_config
from pricehawk.validation.rules import decide

T0 = datetime(2025, 3, 1, tzinfo=UTC)
CFG = default_config()


def _history(prices: list[str], step_h: float = 4) -> list[PricePoint]:
    return [PricePoint(T0 + timedelta(hours=i * step_h), Decimal(p)) for i, p in enumerate(prices)]


def _new(price: str, n: int, step_h: float = 4) -> PricePoint:
    return PricePoint(T0 + timedelta(hours=n * step_h), Decimal(price))


def _verdict(prices: list[str], new: str, title: str = "Thing", currency: str = "USD",
             peers: tuple[str, ...] = ()) -> str | None:  # fmt: skip
    product = ProductInfo(1, "shop", currency, title=title)
    market = MarketContext(peer_prices=tuple(Decimal(p) for p in peers)) if peers else None
    anomaly = score(_history(prices), _new(new, len(prices)), product, market, config=CFG)
    if anomaly is None or not decide(anomaly.glitch_type, anomaly.confidence, CFG):
        return None
    return anomaly.glitch_type


@pytest.mark.parametrize(
    ("prices", "new", "title", "currency", "expected"),
    [
        # the demo shop's short histories: a ÷10 slip and 89% off are glitches, sales are not
        (["1299.00", "1301.50", "1297.20"], "129.90", "Laptop", "USD", "decimal_slip_10"),
        (["250.00", "252.00", "248.00"], "27.50", "Speaker", "USD", "extreme_discount"),
        (["250.00", "252.00", "248.00"], "162.50", "Speaker", "USD", None),
        (["250.00", "252.00", "248.00"], "175.00", "Speaker", "USD", None),
        (["1299.99"] * 8, "12.99", "Laptop", "USD", "decimal_slip_100"),
        # a lightning deal at 60% off is no glitch; two digits swapped at 41% off is
        (["2199.99"] * 8, "879.99", "TV", "USD", None),
        (["2199.99"] * 8, "1299.99", "TV", "USD", "swapped_digits"),
        (["1599.99"] * 8, "159.99", "TV", "USD", "decimal_slip_10"),
        (["1299.99"] * 8, "199.99", "TV", "USD", "dropped_digit"),
        # a unit price for the pack the title announces
        (["59.99"] * 8, "5.00", "Coffee Pods, Pack of 12", "USD", "unit_price"),
        # a USD figure on a JPY page
        (["149800"] * 8, "998.00", "Camera", "JPY", "wrong_currency"),
        # a monthly installment read as the price is a scrape error
        (["1199.99"] * 8, "100.00", "Laptop", "USD", None),
        # a cent move, and a too-small saving, are nothing
        (["10.00"] * 8, "9.99", "Cable", "USD", None),
        (["4.99"] * 8, "0.49", "Cable", "USD", None),
        # a page flipping between two variants' prices
        (
            ["899.00", "249.00", "899.00", "899.00", "249.00", "899.00"],
            "249.00",
            "Phone",
            "USD",
            None,
        ),
        # a permanent reprice resets the reference: a later sale is not measured from the old
        (["1000.00"] * 6 + ["450.00"] * 8, "300.00", "Drill", "USD", None),
        # a clearance ramp never drops sharply enough from its recent level
        (
            ["100.00"] * 4 + ["80.00"] * 3 + ["60.00"] * 3 + ["40.00"] * 3,
            "25.00",
            "Fan",
            "USD",
            None,
        ),
    ],
)
def test_decisions(prices: list[str], new: str, title: str, currency: str,
                   expected: str | None) -> None:  # fmt: skip
    assert _verdict(prices, new, title, currency) == expected


def test_new_listing_far_below_other_retailers_is_a_glitch() -> None:
    assert _verdict([], "59.99", peers=("899.00", "905.00")) == "below_market"
    assert _verdict([], "759.00", peers=("899.00", "905.00")) is None


def test_market_wide_price_agrees_with_the_low_price() -> None:
    # other retailers sell it cheap too: the deep drop is the market, not an error
    assert _verdict(["400.00"] * 6, "90.00", peers=("95.00", "99.00")) is None
    assert _verdict(["400.00"] * 6, "90.00") == "extreme_discount"
