"""Prices a page only draws with JavaScript, read from the data its scripts carry.

Some themes render the price client-side from a state object the server embeds: Shopify's
product JSON and `ShopifyAnalytics.meta` (amounts in cents), Next.js' `__NEXT_DATA__`, Redux/Vue
`__INITIAL_STATE__`-style globals, a GA4 `view_item` event, WooCommerce's variation table. They
are read only when neither structured data nor the visible page gave a price, and only a product
that is provably the page's own (its name is the page heading, or the platform's one product
object) counts; a variant is chosen on evidence (the URL's `variant=` id, a selected option),
never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml.html import HtmlElement

from pricehawk.extraction.page import Page
from pricehawk.extraction.prices import normalise_currency, parse_structured_price

# Globals that hold a page's state; the object literal after `=` is JSON in practice.
_STATE_ASSIGN = re.compile(
    r"(?:window\.)?(?:__INITIAL_STATE__|__PRELOADED_STATE__|__STATE__|__APP_STATE__|__APOLLO_STATE__|"
    r"__PRODUCT__|__product__|__INITIAL_PROPS__|__REDUX_STATE__|ShopifyAnalytics\.meta|"
    r"(?<![\w.])meta|productData|product_data)\s*=\s*(?=\{)"
)
_GA_EVENT = re.compile(
    r"""(?:gtag\(\s*["']event["']\s*,\s*["']view_item["']\s*,\s*|dataLayer\.push\(\s*)(?=\{)"""
)
_SHOPIFY_CURRENCY = re.compile(
    r"""Shopify\.currency\s*=\s*\{[^}]*["']active["']\s*:\s*["']([A-Z]{3})"""
)
_NAME_KEYS = ("name", "title", "item_name", "productName", "product_name", "displayName")
_PRICE_KEYS = (
    "price", "salePrice", "sale_price", "currentPrice", "current_price", "finalPrice",
    "final_price", "sellingPrice", "selling_price", "display_price", "priceValue",
)  # fmt: skip
_CURRENCY_KEYS = ("currency", "currencyCode", "priceCurrency", "currency_code")
_MAX_SCRIPT = 400_000  # characters: a state blob larger than this is an app bundle, not data
_MAX_NODES = 5_000
_MAX_DEPTH = 12


@dataclass(frozen=True)
class ScriptPrice:
    """A price read from a page's script data (internal)."""

    price: Decimal
    currency: str | None
    source: str


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _names_match(name: str, heading: str) -> bool:
    """The product's name is the heading, or one starts the other ("Sock - M" / "Sock")."""
    a, b = _norm(name), _norm(heading)
    if not a or not b:
        return False
    return a == b or (len(min(a, b, key=len)) >= 6 and (a.startswith(b) or b.startswith(a)))


def _decode_at(text: str, start: int) -> Any:
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    return value


def _walk(value: Any, depth: int = 0, budget: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON value, depth- and size-limited (hostile pages nest without end)."""
    budget = budget if budget is not None else [_MAX_NODES]
    if depth > _MAX_DEPTH or budget[0] <= 0:
        return
    budget[0] -= 1
    if isinstance(value, dict):
        yield value
        for v in value.values():
            if isinstance(v, (dict, list)):
                yield from _walk(v, depth + 1, budget)
    elif isinstance(value, list):
        for v in value[:200]:
            if isinstance(v, (dict, list)):
                yield from _walk(v, depth + 1, budget)


def _price_of(obj: dict[str, Any], page: Page) -> tuple[Decimal | None, str | None]:
    """(amount, currency) from a product-like dict's price field (a number, string or
    {"value"/"amount": ..., "currency": ...})."""
    for key in _PRICE_KEYS:
        if key not in obj:
            continue
        raw = obj[key]
        cur = _currency_of(obj, page)
        if isinstance(raw, dict):
            cur = _currency_of(raw, page) or cur
            raw = next((raw[k] for k in ("value", "amount", "raw", "current") if k in raw), None)
        amount = parse_structured_price(raw, currency=cur, locale=page.locale)
        if amount is not None and amount > 0:
            return amount, cur
    for key in ("pricing", "priceInfo", "price_info", "prices"):
        nested = obj.get(key)
        if isinstance(nested, dict):
            amount, cur = _price_of(nested, page)
            if amount is not None:
                return amount, cur or _currency_of(obj, page)
    return None, None


def _currency_of(obj: dict[str, Any], page: Page) -> str | None:
    for key in _CURRENCY_KEYS:
        found = normalise_currency(obj.get(key), locale=page.locale, url=page.url)
        if found:
            return found
    return None


def _scripts(page: Page) -> Iterator[tuple[HtmlElement, str]]:
    for script in page.tags("script"):
        kind = (script.get("type") or "").lower()
        if kind and kind not in (
            "application/json",
            "text/javascript",
            "module",
            "application/javascript",
        ):
            continue
        text = script.text or ""
        # Only a script that names a price can hold one (most are trackers and app config).
        if 20 < len(text) <= _MAX_SCRIPT and ("price" in text or "Price" in text):
            yield script, text


def read_script_price(page: Page, heading: str | None) -> ScriptPrice | None:
    """The page product's price from script data, or None when nothing proves one."""
    shopify_currency: str | None = None
    for script in page.tags("script"):
        m = (
            _SHOPIFY_CURRENCY.search(script.text or "")
            if "Shopify" in (script.text or "")
            else None
        )
        if m:
            shopify_currency = m.group(1)
            break
    found: list[ScriptPrice] = []
    for script, text in _scripts(page):
        kind = (script.get("type") or "").lower()
        values: list[tuple[Any, str]] = []
        if kind == "application/json":
            values.append((_decode_at(text, len(text) - len(text.lstrip())), "json"))
        else:
            for m in _STATE_ASSIGN.finditer(text):
                values.append((_decode_at(text, m.end()), "state"))
            for m in _GA_EVENT.finditer(text):
                values.append((_decode_at(text, m.end()), "analytics"))
        if "__NUXT__" in text:
            values.append((_nuxt_state(text), "state"))
        for value, how in values:
            if value is None:
                continue
            got = _shopify_product(value, page, shopify_currency, script, text)
            if got is None and heading:
                got = _named_product(value, heading, page, how)
            if got is None:
                got = _addressed_product(value, page, how)
            if got is not None:
                found.append(got)
    woo = _woo_variation(page)
    if woo is not None:
        found.append(woo)
    prices = {f.price for f in found}
    if len(prices) != 1:
        return None  # nothing, or sources that disagree: not a price to trust
    return found[0]


_NUXT = re.compile(
    r"__NUXT__\s*=\s*\(function\(([\w$,\s]*)\)\s*\{\s*return\s*(\{.*\})\s*\}\s*\((.*)\)\s*\)\s*;?\s*$",
    re.DOTALL,
)
_JS_KEY = re.compile(r"([{,])\s*([A-Za-z_$][\w$]*)\s*:")
_JS_IDENT = re.compile(r"(?<=[:\[,])\s*([A-Za-z_$][\w$]*|void 0)\s*(?=[,}\]])")


def _nuxt_state(text: str) -> Any:
    """Nuxt 2's `window.__NUXT__=(function(a,b){return {...price:a...}}(129.9,"EUR"))`: the
    object literal with its parameters put back, as JSON (None when it does not read)."""
    m = _NUXT.search(text)
    if m is None:
        return None
    names = [n.strip() for n in m.group(1).split(",") if n.strip()]
    try:
        args = json.loads("[" + m.group(3).replace("void 0", "null") + "]")
    except ValueError:
        return None
    if not isinstance(args, list):
        return None
    env: dict[str, str] = {
        n: json.dumps(args[i] if i < len(args) else None) for i, n in enumerate(names)
    }
    env.update({"true": "true", "false": "false", "null": "null", "void 0": "null"})
    body = _JS_KEY.sub(lambda k: f'{k.group(1)}"{k.group(2)}":', m.group(2))
    body = _JS_IDENT.sub(lambda k: env.get(k.group(1), "null"), body)
    try:
        return json.loads(body)
    except ValueError:
        return None


def _shopify_product(
    value: Any, page: Page, currency: str | None, script: HtmlElement, text: str
) -> ScriptPrice | None:
    """Shopify's product JSON / analytics meta: variants with integer prices in cents."""
    if not isinstance(value, dict):
        return None
    inner = value.get("product")
    product: dict[str, Any] = inner if isinstance(inner, dict) else value
    variants = product.get("variants")
    if not isinstance(variants, list) or not variants:
        return None
    shopify = (
        "shopify" in text.lower()
        or "price_min" in product
        or "compare_at_price" in product
        or "shopify" in (script.get("id") or "").lower()
        or "ProductJson" in (script.get("id") or "")
    )
    if not shopify:
        return None
    priced = [
        v
        for v in variants
        if isinstance(v, dict) and isinstance(v.get("price"), int) and v["price"] > 0
    ]
    if not priced:
        return None
    chosen = _pick_variant(priced, page)
    if chosen is None:
        return None
    cur = currency or normalise_currency(value.get("currency"), locale=page.locale, url=page.url)
    return ScriptPrice(Decimal(chosen["price"]).scaleb(-2), cur, "shopify")


def _pick_variant(variants: list[dict[str, Any]], page: Page) -> dict[str, Any] | None:
    """The variant the URL (`?variant=<id>`) or a selected option names; any when all cost
    the same; None otherwise."""
    query = dict(parse_qsl(urlsplit(page.url).query))
    wanted = query.get("variant")
    if wanted:
        for v in variants:
            if str(v.get("id")) == wanted:
                return v
    selected = {
        (o.get("value") or "").strip()
        for o in page.doc.xpath("//select[@name='id']//option[@selected]")
    }
    for v in variants:
        if str(v.get("id")) in selected:
            return v
    if len({v["price"] for v in variants}) == 1:
        return variants[0]
    return None


def _named_product(value: Any, heading: str, page: Page, how: str) -> ScriptPrice | None:
    """A dict named like the page heading, with a price (Next.js props, state stores, GA4
    items); two such dicts with different prices prove nothing."""

    def named(obj: dict[str, Any]) -> bool:
        name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
        return name is not None and _names_match(name, heading)

    top_currency = _currency_of(value, page) if isinstance(value, dict) else None
    return _the_one_price(value, page, how, named, top_currency)


_ADDRESS_KEYS = ("slug", "handle", "urlKey", "url_key", "url", "path", "href", "canonicalUrl")


def _addressed_product(value: Any, page: Page, how: str) -> ScriptPrice | None:
    """A priced dict whose slug or URL is the page's own address: an app shell's state proves
    its product that way when there is no heading to match yet. A dict without an address of
    its own proves it by a name that slugs to the page's ("Merino Blend Quarter Zip" on
    /p/merino-blend-quarter-zip, "Regnjacka Skagen" on .../regnjacka-skagen-svart-104233)."""
    last = urlsplit(page.url).path.rstrip("/").rsplit("/", 1)[-1]
    if len(last) < 4:
        return None

    def addressed(obj: dict[str, Any]) -> bool:
        address = next((str(obj[k]) for k in _ADDRESS_KEYS if isinstance(obj.get(k), str)), None)
        if address is not None:
            own: str = urlsplit(address).path.rstrip("/").rsplit("/", 1)[-1]
            return own == last
        name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
        slug = "-".join(_norm(name).split()) if name else ""
        return len(slug) >= 6 and (last == slug or last.startswith(slug + "-"))

    return _the_one_price(value, page, how, addressed, None)


def _the_one_price(
    value: Any,
    page: Page,
    how: str,
    is_own: Callable[[dict[str, Any]], bool],
    fallback_currency: str | None,
) -> ScriptPrice | None:
    """The price of the page's own product dicts (`is_own`) in a JSON value, when they agree:
    two such dicts with different prices prove nothing."""
    prices: dict[Decimal, str | None] = {}
    for obj in _walk(value):
        if not is_own(obj):
            continue
        amount, cur = _price_of(obj, page)
        if amount is not None:
            prices.setdefault(amount, cur or fallback_currency)
    if len(prices) != 1:
        return None
    amount, cur = next(iter(prices.items()))
    return ScriptPrice(amount, cur, how)


def _woo_variation(page: Page) -> ScriptPrice | None:
    """WooCommerce's variation table (`data-product_variations`) and the selected options."""
    forms = page.doc.xpath("//form[@data-product_variations]")
    if len(forms) != 1:
        return None
    form = forms[0]
    try:
        variations = json.loads(form.get("data-product_variations") or "")
    except ValueError:
        return None
    if not isinstance(variations, list):
        return None
    selected: dict[str, str] = {}
    for select in form.iter("select"):
        name = select.get("data-attribute_name") or select.get("name") or ""
        chosen = [
            o.get("value") or "" for o in select.iter("option") if o.get("selected") is not None
        ]
        if chosen and chosen[0]:
            selected[name] = chosen[0]
    if not selected:
        return None
    matches = []
    for v in variations:
        if not isinstance(v, dict) or not isinstance(v.get("attributes"), dict):
            continue
        attrs = v["attributes"]
        if all(attrs.get(k) in ("", None, val) for k, val in selected.items()) and all(
            (val or "") == "" or selected.get(k) == val for k, val in attrs.items()
        ):
            matches.append(v)
    prices = {
        parse_structured_price(v.get("display_price"), currency=None, locale=page.locale)
        for v in matches
    }
    prices.discard(None)
    if len(prices) != 1:
        return None
    amount = prices.pop()
    assert amount is not None
    return ScriptPrice(amount, None, "woocommerce")
