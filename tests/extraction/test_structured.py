"""Structured-data reading: JSON-LD shapes, repairs, microdata/RDFa/OpenGraph, variants."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from pricehawk.extraction import SelectorConfig, SelectorConfigError, extract
from pricehawk.extraction.structured import load_json_ld, normalise_availability

URL = "https://shop.example.com/products/thing"


def page(*json_ld: Any, body: str = "") -> str:
    scripts = "".join(
        f'<script type="application/ld+json">{j if isinstance(j, str) else json.dumps(j)}</script>'
        for j in json_ld
    )
    return f"<html><head>{scripts}</head><body>{body}</body></html>"


def offer(price: Any, **extra: Any) -> dict[str, Any]:
    return {"@type": "Offer", "price": price, "priceCurrency": "USD", **extra}


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        ('{"a": 1}', 1),
        ('{"a": 1,}', 1),
        ('[{"a": 1}, {"b": 2},]', 1),
        ('{"a": 1}{"b": 2}', 2),
        ('<!-- {"a": 1} -->', 1),
        ('//<![CDATA[\n{"a": 1}\n//]]>', 1),
        ('{"a": "line\nbreak"}', 1),
        ('{"a": "it\\\'s"}', 1),
        ("{&quot;a&quot;: 1}", 1),
        ("{not json", 0),
        ("", 0),
    ],
)
def test_load_json_ld_repairs(raw: str, count: int) -> None:
    assert len(load_json_ld(raw)) == count


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("https://schema.org/InStock", "in_stock"),
        ("http://schema.org/OutOfStock", "out_of_stock"),
        ("schema:SoldOut", "out_of_stock"),
        ("InStock", "in_stock"),
        ("in stock", "in_stock"),
        ("PreOrder", "preorder"),
        ("https://schema.org/LimitedAvailability", "limited"),
        (["https://schema.org/BackOrder"], "preorder"),
        ("whatever", None),
        (None, None),
    ],
)
def test_normalise_availability(value: Any, want: str | None) -> None:
    assert normalise_availability(value) == want


def test_list_valued_type_and_graph_with_id_references() -> None:
    html = page(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "@id": URL, "mainEntity": {"@id": "#p"}},
                {"@type": ["Product", "Thing"], "@id": "#p", "name": "T", "offers": {"@id": "#o"}},
                {"@type": "Offer", "@id": "#o", "price": "10.50", "priceCurrency": "EUR"},
            ],
        }
    )
    r = extract(html, URL)
    assert (r.price, r.currency, r.method) == (Decimal("10.50"), "EUR", "json-ld")


def test_capitalisation_and_prefix_variants() -> None:
    html = page(
        {
            "@type": "schema:Product",
            "Name": "T",
            "schema:offers": {"@type": "Offer", "PRICE": 3, "priceCurrency": "GBP"},
        }
    )
    r = extract(html, URL)
    assert (r.price, r.currency, r.title) == (Decimal("3"), "GBP", "T")


def test_offer_level_ids_and_list_price_from_price_specification() -> None:
    html = page(
        {
            "@type": "Product",
            "name": "T",
            "offers": {
                "@type": "Offer",
                "sku": "S1",
                "gtin13": "4006381333931",
                "priceCurrency": "USD",
                "priceSpecification": [
                    {"@type": "UnitPriceSpecification", "price": 20, "priceType": "https://schema.org/ListPrice"},
                    {"@type": "UnitPriceSpecification", "price": 15},
                    {"@type": "UnitPriceSpecification", "price": 1.5,
                     "referenceQuantity": {"@type": "QuantitativeValue", "value": 100}},
                ],
            },
        }
    )  # fmt: skip
    r = extract(html, URL)
    assert (r.price, r.list_price, r.sku, r.gtin) == (
        Decimal(15),
        Decimal(20),
        "S1",
        "4006381333931",
    )


def test_zero_price_in_structured_data_is_not_a_price() -> None:
    r = extract(page({"@type": "Product", "name": "T", "offers": offer("0.00")}), URL)
    assert r.price is None


def test_top_level_offer_with_item_offered() -> None:
    html = page({"@type": "Offer", "price": "7.00", "priceCurrency": "USD",
                 "itemOffered": {"@type": "Product", "name": "Widget", "sku": "W1"}})  # fmt: skip
    r = extract(html, URL)
    assert (r.price, r.title, r.sku) == (Decimal("7.00"), "Widget", "W1")


def test_page_product_chosen_over_a_related_one_by_url() -> None:
    related = {
        "@type": "Product",
        "name": "Other",
        "url": "https://shop.example.com/products/other",
        "offers": offer(5),
    }
    mine = {"@type": "Product", "name": "Mine", "url": URL, "offers": offer(9)}
    r = extract(page(related, mine), URL)
    assert (r.price, r.title) == (Decimal(9), "Mine")


def test_variants_each_become_an_offer_and_url_picks_one() -> None:
    variants = {
        "@type": "Product",
        "name": "Tee",
        "offers": [
            offer("19.00", sku="S", url=URL + "?variant=1"),
            offer("23.00", sku="XL", url=URL + "?variant=2"),
        ],
    }
    r = extract(page(variants), URL + "?variant=2")
    assert (r.price, r.sku) == (Decimal("23.00"), "XL")
    assert [o.sku for o in r.offers] == ["S", "XL"]
    assert [o.selected for o in r.offers] == [False, True]


def test_variants_without_evidence_are_ambiguous_not_guessed() -> None:
    variants = {"@type": "Product", "name": "Tee", "offers": [offer("19.00"), offer("23.00")]}
    r = extract(page(variants), URL)
    assert r.price is None and r.ambiguous
    assert sorted(c.price for c in r.candidates) == [Decimal("19.00"), Decimal("23.00")]
    assert r.to_json_dict()["ambiguous"] is True


def test_variants_with_one_price_are_not_ambiguous() -> None:
    variants = {
        "@type": "Product",
        "name": "Tee",
        "offers": [offer("19.00", sku="S"), offer("19.00", sku="M")],
    }
    r = extract(page(variants), URL)
    assert r.price == Decimal("19.00") and not r.ambiguous


def test_visible_price_settles_variants() -> None:
    variants = {"@type": "Product", "name": "Tee", "offers": [offer("19.00"), offer("23.00")]}
    body = (
        '<div class="product-info"><h1>Tee</h1><span class="price">$23.00</span>'
        "<button>Add to cart</button></div>"
    )
    r = extract(page(variants, body=body), URL)
    assert r.price == Decimal("23.00") and not r.ambiguous


def test_structured_and_visible_disagree_visible_wins_and_is_recorded() -> None:
    body = (
        '<div class="product-info"><h1>T</h1><span class="price sale-price">$80.00</span>'
        '<s class="price">$100.00</s><button>Add to cart</button></div>'
    )
    r = extract(page({"@type": "Product", "name": "T", "offers": offer("100.00")}, body=body), URL)
    assert (r.price, r.list_price, r.method) == (Decimal("80.00"), Decimal("100.00"), "visible")
    assert r.disagreements


def test_microdata_and_json_ld_agree_no_disagreement() -> None:
    body = (
        '<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">T</span>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        '<span itemprop="price" content="5.00">$5.00</span>'
        '<meta itemprop="priceCurrency" content="USD">'
        "</div></div>"
    )
    r = extract(page({"@type": "Product", "name": "T", "offers": offer("5.00")}, body=body), URL)
    assert r.price == Decimal("5.00") and r.disagreements == ()


def test_selectors_from_mapping_and_errors() -> None:
    cfg = SelectorConfig.from_mapping(
        {
            "price": ["css:.nope::text", "xpath://b[@id='p']/text()"],
            "currency": "clp",
            "locale": "es_CL",
        }
    )
    r = extract("<html><body><b id='p'>$ 12.990</b></body></html>", "https://x.cl/p", selectors=cfg)
    assert (r.price, r.currency, r.method) == (Decimal("12990"), "CLP", "selectors")
    with pytest.raises(SelectorConfigError, match="extraction.prize"):
        SelectorConfig.from_mapping({"prize": ".p"})
    with pytest.raises(SelectorConfigError, match="invalid xpath"):
        SelectorConfig.from_mapping({"price": "xpath://["})
    with pytest.raises(SelectorConfigError, match="currency"):
        SelectorConfig.from_mapping({"currency": "dollars"})


def test_bytes_in_a_declared_legacy_charset() -> None:
    html = (
        '<html><head><meta charset="windows-1252"></head><body><div class="product-info">'
        '<h1>T</h1><span class="price">€ 9,99</span><button>Add to cart</button></div>'
        "</body></html>"
    )
    r = extract(html.encode("cp1252"), "https://x.example.de/p")
    assert (r.price, r.currency) == (Decimal("9.99"), "EUR")


def test_image_is_absolute_and_result_json_has_exactly_the_cli_keys() -> None:
    html = page({"@type": "Product", "name": "T", "image": "/i.jpg", "offers": offer("1.50")})
    d = extract(html, URL).to_json_dict()
    assert d["image"] == "https://shop.example.com/i.jpg"
    assert list(d) == ["title", "price", "list_price", "currency", "availability", "sku", "gtin",
                       "mpn", "brand", "image", "url", "method", "ambiguous", "health"]  # fmt: skip
    assert d["price"] == "1.50" and d["list_price"] is None


BUY_BOX = '<div class="product-info"><h1>T</h1>{}<button>Add to cart</button></div>'


@pytest.mark.parametrize(
    ("structured", "visible_html", "want", "method"),
    [
        # a lost decimal point only ever inflates: the smaller reading wins, either way round
        ("129", '<span class="price">$129<span class="x">00</span></span>', "129", "json-ld"),
        (1999, '<span class="price">$19.99</span>', "19.99", "visible"),
        # a price in another currency is a conversion widget, not a disagreement
        ("50.00", '<span class="price">€46,00</span>', "50.00", "json-ld"),
    ],
)
def test_structured_vs_visible_edge_cases(
    structured: Any, visible_html: str, want: str, method: str
) -> None:
    html = page(
        {"@type": "Product", "name": "T", "offers": offer(structured)},
        body=BUY_BOX.format(visible_html),
    )
    r = extract(html, URL)
    assert (r.price, r.method) == (Decimal(want), method)


def test_price_range_string_in_json_ld_is_ambiguous() -> None:
    r = extract(page({"@type": "Product", "name": "T", "offers": offer("19.99 - 29.99")}), URL)
    assert r.price is None and r.ambiguous
    assert [c.price for c in r.candidates] == [Decimal("19.99"), Decimal("29.99")]


def test_current_price_followed_by_its_list_price_in_one_element() -> None:
    r = extract(BUY_BOX.format('<span class="price">$79.99 Reg. $99.99</span>'), URL)
    assert r.price == Decimal("79.99")


def test_visible_price_range_is_not_a_price() -> None:
    r = extract(BUY_BOX.format('<span class="price">$20.00 – $35.00</span>'), URL)
    assert r.price is None


def test_low_confidence_visible_disagreement_is_recorded_but_structured_kept() -> None:
    body = '<div><span class="price">$12.00</span></div>'
    r = extract(page({"@type": "Product", "name": "T", "offers": offer("10.00")}, body=body), URL)
    assert r.price == Decimal("10.00") and r.method == "json-ld"
    assert any("low confidence" in d for d in r.disagreements)


@pytest.mark.parametrize(
    ("price_html", "price", "list_price"),
    [
        ('<span class="price">Was $99 Now $79</span>', "79", "99"),
        ('<span class="price">Now $79 Was $99</span>', "79", "99"),
        ('<span class="price">Antes $ 34.990 Ahora $ 24.990</span>', "24990", "34990"),
        ('<span class="price">2 for $30</span><span class="price">$16.00</span>', "16.00", None),
        ('<span class="price">$19.99 (approx. €18.40)</span>', "19.99", None),
        ('<span class="price">$49.99</span><span class="price-per-unit">$2.50 / 100g</span>',
         "49.99", None),
        ('<span class="price">$49.99</span><p>or $12.50/mo with <span class="klarna">Klarna'
         '</span></p><span class="price monthly-price">$12.50/mo</span>', "49.99", None),
    ],
)  # fmt: skip
def test_visible_buy_box_readings(price_html: str, price: str, list_price: str | None) -> None:
    r = extract(BUY_BOX.format(price_html), "https://shop.example.cl/p" if "." in price_html
                and "Antes" in price_html else URL)  # fmt: skip
    assert r.price == Decimal(price)
    assert r.list_price == (Decimal(list_price) if list_price else None)


@pytest.mark.parametrize(
    ("lang", "url", "text", "price", "currency"),
    [
        ("en-US", "https://shop.example.ca/p", "$49.99", "49.99", "CAD"),
        ("es", "https://tienda.example.com.mx/p", "$1,299.00", "1299.00", "MXN"),
        ("es", "https://tienda.example.cl/p", "$24.990", "24990", "CLP"),
        ("de-DE", "https://shop.example.ch/p", "CHF 1'299.50", "1299.50", "CHF"),
        ("en", "https://shop.example.io/p", "$10.00", "10.00", "USD"),
    ],
)
def test_domain_beats_theme_locale(
    lang: str, url: str, text: str, price: str, currency: str
) -> None:
    html = f'<html lang="{lang}"><body>{BUY_BOX.format(f"<span class=price>{text}</span>")}'
    r = extract(html, url)
    assert (r.price, r.currency) == (Decimal(price), currency)
