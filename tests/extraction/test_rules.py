"""Rules added from the held-out batches: member prices, buttons, split cents, stylesheet
strikes, reference prices, script-drawn prices (each as a small page through `extract()`)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricehawk.extraction import extract
from pricehawk.extraction.prices import parse_price_text
from pricehawk.extraction.visible import _discount_pair

URL = "https://shop.example.com/products/thing"


# Enough ordinary text that a page with an empty price slot is not taken for an app shell.
_COPY = "<p>" + "Made to last, shipped in recycled packaging, with free returns. " * 4 + "</p>"


def buy_box(inner: str, *, title: str = "Thing", head: str = "", lang: str = "en") -> str:
    return (
        f'<html lang="{lang}"><head>{head}</head><body><div class="product-info">'
        f"<h1>{title}</h1>{inner}{_COPY}<button>Add to cart</button></div></body></html>"
    )


@pytest.mark.parametrize(
    ("prices", "percents", "want"),
    [
        ({Decimal("1299"), Decimal("2499")}, [Decimal("48")], (Decimal("1299"), Decimal("2499"))),
        (
            {Decimal("89.95"), Decimal("129.95")},
            [Decimal("30")],
            (Decimal("89.95"), Decimal("129.95")),
        ),
        ({Decimal("89.95"), Decimal("129.95")}, [Decimal("25")], None),  # 30.8% is not 25%
        ({Decimal("80"), Decimal("100")}, [Decimal("20")], (Decimal("80"), Decimal("100"))),
        ({Decimal("80"), Decimal("100")}, [], None),
        # One pair matches: the third amount (a waived delivery fee) is neither.
        (
            {Decimal("80"), Decimal("90"), Decimal("100")},
            [Decimal("20")],
            (Decimal("80"), Decimal("100")),
        ),
        ({Decimal("80"), Decimal("100"), Decimal("125")}, [Decimal("20")], None),  # two pairs
    ],
)
def test_discount_badge_arithmetic(
    prices: set[Decimal], percents: list[Decimal], want: tuple[Decimal, Decimal] | None
) -> None:
    assert _discount_pair(prices, percents) == want


@pytest.mark.parametrize(
    ("inner", "price", "list_price"),
    [
        # member / loyalty prices give way to the public price
        (
            '<div class="member-price">Members <span class="price">$34.99</span></div>'
            '<div class="std"><span class="price">$39.99</span></div>',
            "39.99",
            None,
        ),
        (
            '<div class="price-member"><span class="l">Member price</span>'
            '<span class="amount">$34.99</span></div><div class="price-standard">'
            '<span class="l">Non-member price</span><span class="amount">$39.99</span></div>',
            "39.99",
            None,
        ),
        # a price only inside the buy button
        ("<p>Riso print.</p><button class='btn'>Add to bag · $34.00</button>", "34.00", None),
        # dollars and cents in their own elements, no structured data
        (
            '<div class="product-price"><span>$</span><span>249</span><span>00</span></div>',
            "249.00",
            None,
        ),
        ('<div class="pdp-price">$129<sup>97</sup></div>', "129.97", None),
        # inline strike-through list prices
        (
            '<div class="p"><span style="text-decoration: line-through">$80.00</span>'
            '<span style="color:red">$60.00</span></div>',
            "60.00",
            "80.00",
        ),
        # a delta ("+ $250.00") and a quantity table are not the price
        (
            '<span class="price">$10.00</span><label>32 GB <span>+ $250.00</span></label>',
            "10.00",
            None,
        ),
        # "$79 Reg. $99" and "Now $79 Was $99" in one element
        ('<span class="price">$79.99 Reg. $99.99</span>', "79.99", "99.99"),
        # two prices and a badge whose arithmetic says which is the old one
        (
            '<div class="a">₹1,299</div><div class="b">₹2,499</div><span>48% off</span>',
            "1299",
            "2499",
        ),
        # the price next to an ex-VAT twin
        (
            '<span class="price-inc">£99.99</span> <span>inc. VAT</span>'
            '<span class="price-ex">£83.33</span> <span>ex. VAT</span>',
            "99.99",
            None,
        ),
    ],
)
def test_visible_rules(inner: str, price: str, list_price: str | None) -> None:
    r = extract(buy_box(inner), URL)
    assert r.price == Decimal(price), r
    assert r.list_price == (Decimal(list_price) if list_price else None)


def test_a_page_stylesheet_strike_makes_a_list_price() -> None:
    head = "<style>.p1{color:#888;text-decoration:line-through}</style>"
    inner = '<div class="x"><span class="p1">$80.00</span> <span class="p2">$64.00</span></div>'
    r = extract(buy_box(inner, head=head), URL)
    assert (r.price, r.list_price) == (Decimal("64.00"), Decimal("80.00"))


def test_a_member_price_beside_only_a_struck_price_is_not_guessed() -> None:
    inner = (
        '<div class="member-price"><span class="price">$799.99</span></div>'
        '<div><span>Was</span> <s class="price">$899.99</s></div>'
    )
    r = extract(buy_box(inner), URL)
    assert r.price is None and r.ambiguous


def test_an_omnibus_reference_price_is_never_the_price() -> None:
    inner = (
        '<span class="price-new">39,00 €</span>'
        '<p class="ref">Prix le plus bas des 30 derniers jours : <span>45,00 €</span></p>'
    )
    r = extract(buy_box(inner, lang="fr"), "https://shop.example.fr/p")
    assert r.price == Decimal("39.00") and r.currency == "EUR"


@pytest.mark.parametrize(
    ("text", "locale", "want"),
    [
        ("2.99", "de_DE", "2.99"),  # two digits after a dot: never thousands
        ("12,99 €", "en", "12.99"),
        ("1.299", "de_DE", "1299"),
        ("1.249,90 TL", "tr", "1249.90"),
    ],
)
def test_separator_rules(text: str, locale: str, want: str) -> None:
    assert parse_price_text(text, locale=locale, currency=None)[0] == Decimal(want)


# ---------------------------------------------------------------------------------------------
# Prices drawn by JavaScript


def test_shopify_product_json_in_cents_and_the_url_variant() -> None:
    meta = {
        "product": {
            "variants": [
                {"id": 1, "price": 12900, "name": "Thing - Black"},
                {"id": 2, "price": 14900, "name": "Thing - Steel"},
            ]
        }
    }
    head = (
        '<script>Shopify.currency = {"active":"EUR","rate":"1.0"};</script>'
        f"<script>window.ShopifyAnalytics.meta = {json.dumps(meta)};</script>"
    )
    html = buy_box('<div class="product-price"></div>', head=head)
    r = extract(html, URL + "?variant=2")
    assert (r.price, r.currency, r.method) == (Decimal("149.00"), "EUR", "script")
    # without the variant in the URL nothing says which one: no price
    assert extract(html, URL).price is None


def test_next_data_named_like_the_heading() -> None:
    data = {"props": {"pageProps": {"product": {"name": "Thing", "price": {"value": 79.99}}}}}
    html = buy_box(
        '<div class="price" aria-busy="true"></div>'
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script>'
    )
    r = extract(html, "https://shop.example.de/p/thing")
    assert (r.price, r.currency, r.method) == (Decimal("79.99"), "EUR", "script")


def test_a_script_product_named_otherwise_is_not_this_page() -> None:
    data = {"product": {"name": "Another thing entirely", "price": 12.5}}
    html = buy_box("", head=f"<script>window.__INITIAL_STATE__ = {json.dumps(data)};</script>")
    assert extract(html, URL).price is None


def test_ga4_view_item() -> None:
    event = {"currency": "USD", "value": 64.5, "items": [{"item_name": "Thing", "price": 64.5}]}
    html = buy_box("", head=f'<script>gtag("event","view_item",{json.dumps(event)});</script>')
    r = extract(html, URL)
    assert (r.price, r.currency) == (Decimal("64.5"), "USD")


def test_nuxt_function_state() -> None:
    script = (
        '<script>window.__NUXT__=(function(a,b){return {data:[{product:{name:"Thing",'
        'price:a,currency:b}}]}}(129.9,"EUR"));</script>'
    )
    r = extract(buy_box("", head=script), URL)
    assert (r.price, r.currency) == (Decimal("129.9"), "EUR")


def test_woocommerce_selected_variation_settles_a_range() -> None:
    variations = json.dumps(
        [
            {"attributes": {"attribute_size": "s"}, "display_price": 29},
            {"attributes": {"attribute_size": "m"}, "display_price": 39},
        ]
    ).replace('"', "&quot;")
    form = (
        f'<form class="variations_form" data-product_variations="{variations}">'
        '<select name="attribute_size"><option value="">Choose</option>'
        '<option value="s">S</option><option value="m" selected>M</option></select></form>'
    )
    price = (
        '<p class="price"><span class="amount">$29.00</span> – '
        '<span class="amount">$49.00</span></p>'
    )
    r = extract(buy_box(price + form), URL)
    assert r.price == Decimal("39")


_NAMES = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll")), min_size=3, max_size=20)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, title=_NAMES, price=st.integers(1, 10**6))
def test_script_prices_of_other_products_are_never_taken(name: str, title: str, price: int) -> None:
    """A state object's price counts only for a product named like the page's title."""
    if name.lower().startswith(title.lower()) or title.lower().startswith(name.lower()):
        return
    data = {"product": {"name": name, "price": price}}
    html = buy_box("", title=title, head=f"<script>var productData = {json.dumps(data)};</script>")
    assert extract(html, URL).price is None
