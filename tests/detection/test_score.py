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
        (["251.37", "248.12", "250.64"], "27.50", "Speaker", "USD", "extreme_discount"),
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
        # a monthly installment read as the price is a scrape error: of the shown price...
        (["1199.99"] * 8, "100.00", "Laptop", "USD", None),
        (["1199.99"] * 8, "33.33", "Laptop", "USD", None),
        # ...or of one the page moved to since the last crawl (a sale began: 839.99 / 12)
        (["1199.99"] * 8, "70.00", "Laptop", "USD", None),
        # a typed price is no payment: 69.99 x n never lands on a x.99 price
        (["1199.99"] * 8, "69.99", "Laptop", "USD", "extreme_discount"),
        # in a whole-unit currency a figure off the shop's 10-yen grid is a payment (/24)...
        (["149800"] * 8, "5242", "Camera", "JPY", None),
        # ...and a grid price 92% off is an error
        (["149800"] * 8, "11980", "Camera", "JPY", "extreme_discount"),
        # half the price of a pack of 2 is a 50%-off deal as often as a unit price
        (["27.99"] * 8, "14.00", "Dish Tabs, Pack of 2", "USD", None),
        # a dropped leading "1" on a cheap page lands where lightning deals land
        (["154.99"] * 8, "54.99", "Keyboard", "USD", None),
        # a slip of a price never seen on a page that moves every crawl: the digits tell
        (
            ["229.99", "247.99", "211.99", "239.99", "221.99", "244.99"],
            "23.49",
            "Monitor",
            "USD",
            "decimal_slip_10",
        ),
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
    assert _verdict(["399.99"] * 6, "79.99", peers=("85.00", "89.00")) is None
    assert _verdict(["399.99"] * 6, "79.99") == "extreme_discount"


def test_a_list_price_that_moved_with_the_price_says_the_regular_price_moved() -> None:
    # 188.99 for weeks, then 35.99 while the page's honest list price says 68.99: a reprice
    # meeting a deal, not a 81%-off error
    times = [T0 + timedelta(hours=4 * i) for i in range(10)]
    history = [PricePoint(t, Decimal("188.99"), Decimal("188.99")) for t in times[:-1]]
    product = ProductInfo(1, "shop", "USD", title="Espresso Machine")
    moved = PricePoint(times[-1], Decimal("35.99"), Decimal("68.99"))
    kept = PricePoint(times[-1], Decimal("35.99"), Decimal("188.99"))
    a = score(history, moved, product, config=CFG)
    assert a is None or not decide(a.glitch_type, a.confidence, CFG)
    b = score(history, kept, product, config=CFG)
    assert b is not None and decide(b.glitch_type, b.confidence, CFG)


def test_a_second_look_at_a_new_page_asks_the_market() -> None:
    # one launch price of its own, then 83% below it on a sale day: other retailers' 55.00
    # (the market price) make 10.99 a glitch, where the page's own history cannot
    product = ProductInfo(1, "shop", "GBP", title="Camera")
    history = _history(["65.04"])
    market = MarketContext(retailer_discounted_share=0.5, peer_prices=(Decimal("55.00"),))
    a = score(history, _new("10.99", 1), product, market, config=CFG)
    assert a is not None and a.glitch_type == "below_market"
    assert decide(a.glitch_type, a.confidence, CFG)
