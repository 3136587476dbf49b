"""Property-based: no input crashes the extractor; no price is invented from a page without one."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricehawk.extraction import ExtractionResult, extract
from pricehawk.extraction.prices import parse_price_text, parse_structured_price
from pricehawk.extraction.structured import load_json_ld

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TAGS = st.sampled_from(["div", "span", "p", "h1", "section", "li", "s", "del", "sup", "b"])
_CLASSES = st.sampled_from(
    ["", "price", "product-info", "related", "sale-price", "was", "buy-box", "save", "x"]
)
# Text with no digit anywhere: a page built from it has no price to find.
_WORDS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "No", "Nl", "Cs"), blacklist_characters="<>&"
    ),
    max_size=40,
)


@st.composite
def digitless_pages(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 12))):
        tag = draw(_TAGS)
        cls = draw(_CLASSES)
        parts.append(f'<{tag} class="{cls}">{draw(_WORDS)}</{tag}>')
    head = ""
    if draw(st.booleans()):
        head = (
            '<script type="application/ld+json">{"@type":"Product","name":"X",'
            '"offers":{"@type":"Offer","priceCurrency":"USD"}}</script>'
        )
    return f"<html><head>{head}</head><body><h1>{draw(_WORDS)}</h1>{''.join(parts)}</body></html>"


@FAST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_input_never_crashes(html: str | bytes) -> None:
    result = extract(html, "https://shop.example.com/p/1")
    assert isinstance(result, ExtractionResult)
    json.dumps(result.to_json_dict(details=True))


@FAST
@given(digitless_pages())
def test_no_price_is_invented_from_a_page_without_one(html: str) -> None:
    result = extract(html, "https://shop.example.com/p/1")
    assert result.price is None
    assert result.list_price is None
    assert result.candidates == ()


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["@type", "offers", "price", "Price", "@graph", "@id", "lowPrice",
                         "priceSpecification", "hasVariant", "itemOffered", "name", "image"]),
        children,
        max_size=5,
    ),
    max_leaves=20,
)  # fmt: skip


@FAST
@given(_JSONISH)
def test_any_json_ld_shape_never_crashes(value: object) -> None:
    body = json.dumps(value)
    html = (
        f'<html><head><script type="application/ld+json">{body}</script></head><body></body></html>'
    )
    result = extract(html, "https://shop.example.com/p/1")
    if result.price is not None:
        assert result.price >= 0
    load_json_ld(body[: len(body) // 2])  # truncated JSON is tolerated too


@FAST
@given(st.text(max_size=60), st.sampled_from([None, "de", "es_CL", "en_US", "fr_FR"]))
def test_price_parsers_never_crash_or_go_negative(text: str, locale: str | None) -> None:
    amount, _ = parse_price_text(text, locale=locale, currency=None)
    assert amount is None or amount >= 0
    structured = parse_structured_price(text, currency="USD", locale=locale)
    assert structured is None or structured >= 0


HOSTILE = {
    "deep json": '<script type="application/ld+json">'
    + '{"a":' * 900
    + "1"
    + "}" * 900
    + "</script>",
    "deep list": '<script type="application/ld+json">' + "[" * 5000 + "]" * 5000 + "</script>",
    "self-referencing group": (
        '<script type="application/ld+json">{"@graph":[{"@id":"#a","@type":"ProductGroup",'
        '"hasVariant":[{"@id":"#a"}],"offers":{"@id":"#o"}},'
        '{"@id":"#o","@type":"Offer","price":5,"offers":{"@id":"#o"}}]}</script>'
    ),
    "deep divs": "<body>" + "<div class='price'>" * 3000 + "$5" + "</div>" * 3000,
    "deep microdata": (
        "<div itemscope itemtype='https://schema.org/Product'>"
        + "<div itemprop='offers' itemscope itemtype='https://schema.org/Offer'>" * 300
        + "</div>" * 301
    ),
    "xml declaration in text": "<?xml version='1.0' encoding='utf-8'?><html><body></body></html>",
    "nul bytes": "\x00<html>\x00",
    "huge class": "<div class='" + "price " * 50000 + "'>$1</div>",
}


@pytest.mark.parametrize("html", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_pages_do_not_crash(html: str) -> None:
    result = extract(html, "https://shop.example.com/p/1")
    json.dumps(result.to_json_dict(details=True))
