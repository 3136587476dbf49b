"""Structured data -> products: JSON-LD, microdata, RDFa (Lite) and OpenGraph/product meta tags.

Each syntax is first turned into plain JSON-LD-like dicts with normalised keys (prefix stripped,
lower-cased: "schema:Offers" -> "offers"), so one interpreter reads all of them.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

import lxml.etree
from extruct.w3cmicrodata import LxmlMicrodataExtractor
from lxml.html import HtmlElement

from pricehawk.extraction.models import Offer
from pricehawk.extraction.page import elements, text_of
from pricehawk.extraction.prices import (
    is_price_range,
    normalise_currency,
    parse_structured_price,
)

Node = dict[str, Any]

_PREFIX = re.compile(r"^(?:https?://schema\.org/|schema:|s:|sdo:)", re.IGNORECASE)
_PRODUCT_TYPES = frozenset(
    {
        "product", "productgroup", "productmodel", "individualproduct", "someproducts", "vehicle",
        "car", "book", "motorcycle", "drug", "dietarysupplement", "softwareapplication",
        "mobileapplication", "videogame", "musicalbum", "movie", "game",
    }
)  # fmt: skip
_OFFER_TYPES = frozenset({"offer", "aggregateoffer", "offerforpurchase", "offerforlease"})
_LIST_PRICE_TYPES = ("listprice", "strikethroughprice", "msrp", "regularprice", "wasprice")
_GTIN_KEYS = ("gtin13", "gtin12", "gtin14", "gtin8", "gtin", "isbn", "ean", "upc")

# schema.org ItemAvailability -> our vocabulary (see models.AVAILABILITY_VALUES).
_AVAILABILITY: dict[str, str] = {
    "instock": "in_stock",
    "instoreonly": "in_stock",
    "onlineonly": "in_stock",
    "in stock": "in_stock",
    "available": "in_stock",
    "outofstock": "out_of_stock",
    "out of stock": "out_of_stock",
    "soldout": "out_of_stock",
    "discontinued": "out_of_stock",
    "oos": "out_of_stock",
    "unavailable": "out_of_stock",
    "preorder": "preorder",
    "presale": "preorder",
    "backorder": "preorder",
    "available for order": "preorder",
    "limitedavailability": "limited",
    "limited": "limited",
    "pending": "preorder",
}


def normalise_availability(value: object) -> str | None:
    """A schema.org availability URL/name or a free-text stock word -> our vocabulary."""
    if isinstance(value, list):
        for v in value:
            got = normalise_availability(v)
            if got:
                return got
        return None
    if isinstance(value, dict):
        return normalise_availability(value.get("@id") or value.get("name"))
    if not isinstance(value, str):
        return None
    key = value.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()
    key = key.replace("_", "").replace("-", "") if key not in _AVAILABILITY else key
    return _AVAILABILITY.get(key)


# --------------------------------------------------------------------------------------------
# Normalised nodes


def norm_key(key: str) -> str:
    """ "schema:PriceCurrency" / "http://schema.org/offers" -> "pricecurrency" / "offers"."""
    if key.startswith("@"):
        return key.lower()
    return _PREFIX.sub("", key).lower()


_MAX_DEPTH = 40  # real product markup nests a few levels; hostile JSON nests thousands


# Compiled once: an XPath string is compiled again on every call.
_TYPED = lxml.etree.XPath("//*[@typeof]")
_WITH_PROPERTY = lxml.etree.XPath("//*[@property]")


def normalise(value: Any, depth: int = 0) -> Any:
    """Recursively normalise dict keys (see `norm_key`); anything nested too deep is dropped."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {norm_key(str(k)): normalise(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, depth + 1) for v in value]
    return value


def types_of(node: Node) -> set[str]:
    """The node's @type values, lower-cased and without a schema.org prefix."""
    raw = node.get("@type", node.get("type"))
    items = raw if isinstance(raw, list) else [raw]
    out: set[str] = set()
    for t in items:
        if isinstance(t, str):
            out.add(_PREFIX.sub("", t.strip()).rsplit("/", 1)[-1].lower())
    return out


def first(value: Any) -> Any:
    """The first element of a list, or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def text_value(value: Any) -> str | None:
    """A string property (possibly a list or {"@value": ...} / {"name": ...}) as clean text."""
    value = first(value)
    if isinstance(value, dict):
        value = value.get("@value", value.get("name", value.get("@id")))
        value = first(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    cleaned = " ".join(html_lib.unescape(value).split())
    return cleaned or None


def image_value(value: Any, base_url: str) -> str | None:
    """schema.org image (URL, list, ImageObject) as an absolute URL."""
    value = first(value)
    if isinstance(value, dict):
        value = first(value.get("url") or value.get("contenturl") or value.get("@id"))
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    if url.startswith("data:"):
        return None
    return urljoin(base_url, url)


# --------------------------------------------------------------------------------------------
# JSON-LD loading (tolerant of the mistakes real shops make)

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_HTML_COMMENT = re.compile(
    r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?:-->|//\s*\]\]>|\]\]>)\s*$"
)
_BAD_ESCAPE = re.compile(r"\\([^\"\\/bfnrtu])")
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


def _decode_all(text: str) -> list[Any]:
    """Decode one or more concatenated JSON values (some shops put two objects in one tag)."""
    decoder = json.JSONDecoder(strict=False)
    out: list[Any] = []
    idx = 0
    n = len(text)
    while idx < n:
        while idx < n and text[idx] in " \t\r\n;,":
            idx += 1
        if idx >= n:
            break
        value, idx = decoder.raw_decode(text, idx)
        out.append(value)
    return out


def load_json_ld(raw: str) -> list[Any]:
    """Parse one JSON-LD script body; try a few repairs before giving up (returns [])."""
    text = _HTML_COMMENT.sub("", raw.strip()).strip()
    if not text:
        return []
    attempts = (
        lambda t: t,
        lambda t: _TRAILING_COMMA.sub(r"\1", t),
        lambda t: _TRAILING_COMMA.sub(r"\1", _BAD_ESCAPE.sub(r"\1", t)),
        lambda t: _TRAILING_COMMA.sub(r"\1", _LINE_COMMENT.sub("", t)),
        lambda t: _TRAILING_COMMA.sub(r"\1", html_lib.unescape(t)),
    )
    for fix in attempts:
        try:
            return _decode_all(fix(text))
        except (ValueError, RecursionError):
            continue
    return []


def json_ld_nodes(scripts: Iterable[HtmlElement]) -> list[Node]:
    """All JSON-LD top-level nodes of these <script>s, `@graph` members flattened, keys
    normalised."""
    nodes: list[Node] = []
    for script in scripts:
        stype = (script.get("type") or "").lower()
        if "ld+json" not in stype:
            continue
        for value in load_json_ld(script.text or ""):
            nodes.extend(_flatten(normalise(value)))
    return nodes


def _flatten(value: Any, depth: int = 0) -> Iterator[Node]:
    if depth > 4:
        return
    if isinstance(value, list):
        for v in value:
            yield from _flatten(v, depth + 1)
    elif isinstance(value, dict):
        graph = value.get("@graph")
        if graph is not None:
            yield from _flatten(graph, depth + 1)
            rest = {k: v for k, v in value.items() if k not in ("@graph", "@context")}
            if any(not k.startswith("@") for k in rest):
                yield rest
        else:
            yield value


# --------------------------------------------------------------------------------------------
# Microdata and RDFa Lite -> nodes

_MICRODATA = LxmlMicrodataExtractor(nested=True, strict=False)


def _from_microdata(item: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(item, list):
        return [_from_microdata(i, depth + 1) for i in item]
    if isinstance(item, dict) and "properties" in item:
        node: Node = {"@type": item.get("type")}
        if item.get("id"):
            node["@id"] = item["id"]
        for k, v in item["properties"].items():
            node[norm_key(str(k))] = _from_microdata(v, depth + 1)
        return node
    return item


def microdata_nodes(doc: HtmlElement, base_url: str) -> list[Node]:
    """Top-level microdata items as normalised nodes."""
    try:
        items = _MICRODATA.extract_items(doc, base_url)
    except Exception:  # noqa: BLE001 - a broken third-party parse must not sink the page
        return []
    return [n for n in (_from_microdata(i) for i in items) if isinstance(n, dict)]


def _rdfa_value(el: HtmlElement, base_url: str) -> str:
    for attr in ("content", "href", "src", "resource"):
        v = el.get(attr)
        if v is not None:
            return urljoin(base_url, str(v)) if attr != "content" else str(v)
    return str(text_of(el))


def rdfa_nodes(doc: HtmlElement, base_url: str) -> list[Node]:
    """schema.org RDFa Lite (`vocab`/`typeof`/`property`) as nodes; other vocabularies ignored."""
    typed = elements(_TYPED, doc)
    if not typed:
        return []
    nodes: dict[int, Node] = {}
    roots: list[Node] = []
    for el in typed:
        node: Node = {"@type": el.get("typeof", "").split()}
        nodes[id(el)] = node
    for el in elements(_WITH_PROPERTY, doc):
        prop_attr = el.get("property", "")
        parent_node = None
        for anc in el.iterancestors():
            if id(anc) in nodes:
                parent_node = nodes[id(anc)]
                break
        for prop in prop_attr.split():
            if ":" in prop and not prop.lower().startswith(("schema:", "http")):
                continue  # og:, product:, fb: ... belong to OpenGraph
            key = norm_key(prop)
            value: Any = nodes[id(el)] if id(el) in nodes else _rdfa_value(el, base_url)
            if parent_node is None:
                continue
            existing = parent_node.get(key)
            if existing is None:
                parent_node[key] = value
            elif isinstance(existing, list):
                existing.append(value)
            else:
                parent_node[key] = [existing, value]
    for el in typed:
        has_typed_parent = any(id(a) in nodes for a in el.iterancestors())
        if not (has_typed_parent and el.get("property")):
            roots.append(nodes[id(el)])
    return roots


# --------------------------------------------------------------------------------------------
# OpenGraph / product meta tags


def meta_tags(metas: Iterable[HtmlElement]) -> dict[str, str]:
    """`<meta property|name=... content=...>` as a dict (first wins), keys lower-cased."""
    out: dict[str, str] = {}
    for meta in metas:
        key = meta.get("property") or meta.get("name") or meta.get("itemprop")
        content = meta.get("content")
        if key and content is not None:
            out.setdefault(key.strip().lower(), content.strip())
    return out


def opengraph_node(meta: dict[str, str]) -> Node | None:
    """Product facts from OpenGraph / Facebook product / Pinterest meta tags as one node."""

    def get(*keys: str) -> str | None:
        for k in keys:
            if meta.get(k):
                return meta[k]
        return None

    price = get("product:sale_price:amount", "product:price:amount", "og:price:amount")
    list_price = get("product:original_price:amount")
    if price and list_price and price == list_price:
        list_price = None
    if price is None and get("og:type") not in ("product", "og:product", "product.item"):
        return None
    node: Node = {"@type": "Product", "name": get("og:title"), "image": get("og:image")}
    node["sku"] = get("product:retailer_item_id", "product:sku")
    node["gtin"] = get("product:gtin", "product:ean", "product:upc", "product:isbn")
    node["mpn"] = get("product:mfr_part_no", "product:mpn")
    node["brand"] = get("product:brand", "og:brand")
    node["url"] = get("og:url")
    if price is not None:
        offer: Node = {
            "@type": "Offer",
            "price": price,
            "pricecurrency": get(
                "product:sale_price:currency", "product:price:currency", "og:price:currency"
            ),
            "availability": get("product:availability", "og:availability"),
        }
        if list_price:
            offer["_list_price"] = list_price
        node["offers"] = offer
    return node


# --------------------------------------------------------------------------------------------
# Interpretation: nodes -> products


@dataclass
class Product:
    """One product read from one syntax (internal)."""

    method: str
    name: str | None = None
    brand: str | None = None
    image: str | None = None
    sku: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    url: str | None = None
    offers: list[Offer] = field(default_factory=list)
    # AggregateOffer without individual offers: (low, high, currency).
    price_range: tuple[Decimal, Decimal, str | None] | None = None

    @property
    def has_price(self) -> bool:
        """True when any offer or range carries a price."""
        return self.price_range is not None or any(o.price is not None for o in self.offers)


@dataclass(frozen=True)
class Context:
    """What the interpreter needs to read values: base URL, locale, currency hint, @id index."""

    base_url: str
    locale: str | None
    currency: str | None
    index: dict[str, Node]


def _ids(node: Node) -> dict[str, str | None]:
    gtin = None
    for key in _GTIN_KEYS:
        gtin = text_value(node.get(key))
        if gtin:
            break
    return {"sku": text_value(node.get("sku")), "gtin": gtin, "mpn": text_value(node.get("mpn"))}


def _resolve(value: Any, ctx: Context) -> Any:
    """Replace a bare {"@id": ...} reference with the node it names (JSON-LD @graph style)."""
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and "@id" in value:
        return ctx.index.get(str(value["@id"]), value)
    if isinstance(value, str) and value in ctx.index:
        return ctx.index[value]
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _currency(value: Any, ctx: Context) -> str | None:
    return normalise_currency(text_value(value), locale=ctx.locale, url=ctx.base_url)


def _price(value: Any, currency: str | None, ctx: Context) -> Decimal | None:
    value = first(value)
    if isinstance(value, dict):
        value = value.get("@value")
    amount = parse_structured_price(value, currency=currency or ctx.currency, locale=ctx.locale)
    # A zero price in structured data is far more often "not set" than a real free product.
    return amount if amount else None


def _price_specs(
    offer: Node, currency: str | None, ctx: Context
) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(price, list price, currency) from priceSpecification entries."""
    price: Decimal | None = None
    list_price: Decimal | None = None
    unit_price: Decimal | None = None
    for spec in _as_list(offer.get("pricespecification")):
        spec = _resolve(spec, ctx)
        if not isinstance(spec, dict):
            continue
        cur = _currency(spec.get("pricecurrency"), ctx) or currency
        amount = _price(spec.get("price"), cur, ctx)
        if amount is None:
            amount = _price(spec.get("minprice"), cur, ctx)
        if amount is None:
            continue
        ptype = (text_value(spec.get("pricetype")) or "").lower()
        if any(t in ptype for t in _LIST_PRICE_TYPES):
            list_price = list_price or amount
        elif spec.get("referencequantity") is not None and "unitprice" in "".join(types_of(spec)):
            qty = _resolve(spec.get("referencequantity"), ctx)
            if isinstance(qty, dict) and text_value(qty.get("value")) not in (None, "1"):
                unit_price = unit_price or amount  # a per-kg/per-100 g price, not the price
                continue
            price = price or amount
        else:
            price = price or amount
        currency = currency or cur
    return price or unit_price, list_price, currency


def _offers(value: Any, ctx: Context, depth: int = 0) -> tuple[list[Offer], Any]:
    """Offers (and an aggregate range) from an `offers` value."""
    offers: list[Offer] = []
    price_range: Any = None
    if depth > 4:
        return offers, price_range
    for raw in _as_list(value):
        raw = _resolve(raw, ctx)
        if not isinstance(raw, dict):
            continue
        types = types_of(raw)
        currency = _currency(raw.get("pricecurrency"), ctx)
        nested = raw.get("offers")
        # An Offer with lowPrice/highPrice and no price is an AggregateOffer in all but name.
        aggregate_like = raw.get("price") is None and raw.get("lowprice") is not None
        if "aggregateoffer" in types or nested is not None or aggregate_like:
            sub, sub_range = _offers(nested, ctx, depth + 1)
            if sub:
                offers.extend(sub)
                continue
            price_range = price_range or sub_range
            low = _price(raw.get("lowprice"), currency, ctx)
            high = _price(raw.get("highprice"), currency, ctx)
            single = _price(raw.get("price"), currency, ctx)
            if single is None and low is not None and (high is None or high == low):
                single = low
            if single is None and low is not None and high is not None:
                price_range = (low, high, currency)
                continue
            if single is None:
                continue
            offers.append(_offer(raw, single, currency, ctx))
            continue
        raw_price = text_value(raw.get("price"))
        if raw_price and is_price_range(raw_price):
            low = _price(re.split(r"\s*[-–—]\s*|\s+to\s+", raw_price)[0], currency, ctx)
            high = _price(re.split(r"\s*[-–—]\s*|\s+to\s+", raw_price)[-1], currency, ctx)
            if low is not None and high is not None and low != high:
                price_range = price_range or (min(low, high), max(low, high), currency)
                continue
        price = _price(raw.get("price"), currency, ctx)
        spec_price, spec_list, spec_cur = _price_specs(raw, currency, ctx)
        if price is None:
            price = spec_price
        currency = currency or spec_cur
        offer = _offer(raw, price, currency, ctx)
        if spec_list is not None and spec_list != price:
            offer = _replace(offer, list_price=spec_list)
        offers.append(offer)
    return offers, price_range


def _replace(offer: Offer, **changes: Any) -> Offer:
    from dataclasses import replace

    return replace(offer, **changes)


def _offer(raw: Node, price: Decimal | None, currency: str | None, ctx: Context) -> Offer:
    item = _resolve(raw.get("itemoffered"), ctx)
    ids = _ids(raw)
    name = text_value(raw.get("name"))
    if isinstance(item, dict):
        item_ids = _ids(item)
        ids = {k: ids[k] or item_ids[k] for k in ids}
        name = name or text_value(item.get("name"))
    list_price = None
    if raw.get("_list_price") is not None:
        list_price = _price(raw.get("_list_price"), currency, ctx)
    url = text_value(raw.get("url"))
    return Offer(
        price=price,
        currency=currency or (ctx.currency if price is not None else None),
        list_price=list_price if list_price != price else None,
        availability=normalise_availability(raw.get("availability")),
        sku=ids["sku"],
        gtin=ids["gtin"],
        mpn=ids["mpn"],
        name=name,
        url=urljoin(ctx.base_url, url) if url else None,
    )


def _brand(value: Any, ctx: Context) -> str | None:
    value = _resolve(first(value), ctx)
    return text_value(value)


def interpret(node: Node, method: str, ctx: Context, depth: int = 0) -> Product:
    """Read one product-typed node (including a ProductGroup's variants)."""
    ids = _ids(node)
    url = text_value(node.get("url"))
    product = Product(
        method=method,
        name=text_value(node.get("name")),
        brand=_brand(node.get("brand") or node.get("manufacturer"), ctx),
        image=image_value(node.get("image"), ctx.base_url),
        url=urljoin(ctx.base_url, url) if url else None,
        sku=ids["sku"],
        gtin=ids["gtin"],
        mpn=ids["mpn"],
    )
    offers, price_range = _offers(node.get("offers"), ctx)
    for offer in offers:
        # Offer-level ids win; product-level ones fill the gaps.
        product.offers.append(
            _replace(
                offer,
                sku=offer.sku or (product.sku if len(offers) == 1 else None),
                gtin=offer.gtin or (product.gtin if len(offers) == 1 else None),
                mpn=offer.mpn or (product.mpn if len(offers) == 1 else None),
            )
        )
    product.price_range = price_range
    # Variants one level down only: an @id cycle (a group listing itself) must not loop.
    for variant in _as_list(node.get("hasvariant")) if depth == 0 else []:
        variant = _resolve(variant, ctx)
        if not isinstance(variant, dict):
            continue
        vp = interpret(variant, method, ctx, depth + 1)
        for offer in vp.offers:
            product.offers.append(
                _replace(
                    offer,
                    sku=offer.sku or vp.sku,
                    gtin=offer.gtin or vp.gtin,
                    mpn=offer.mpn or vp.mpn,
                    name=offer.name or vp.name,
                    url=offer.url or vp.url,
                )
            )
        if product.image is None:
            product.image = vp.image
    return product


def _index(nodes: Iterable[Node]) -> dict[str, Node]:
    index: dict[str, Node] = {}

    def walk(value: Any, depth: int) -> None:
        if depth > 8:
            return
        if isinstance(value, dict):
            node_id = value.get("@id")
            if isinstance(node_id, str) and len(value) > 2:
                index.setdefault(node_id, value)
            for v in value.values():
                walk(v, depth + 1)
        elif isinstance(value, list):
            for v in value:
                walk(v, depth + 1)

    for n in nodes:
        walk(n, 0)
    return index


def _product_nodes(nodes: Iterable[Node], ctx: Context) -> Iterator[Node]:
    """Product-typed nodes at the top level or as a page's mainEntity / an offer's item."""
    for node in nodes:
        types = types_of(node)
        if types & _PRODUCT_TYPES:
            yield node
            continue
        if types & _OFFER_TYPES and isinstance(_resolve(node.get("itemoffered"), ctx), dict):
            item = dict(_resolve(node["itemoffered"], ctx))
            item["offers"] = {k: v for k, v in node.items() if k != "itemoffered"}
            yield item
            continue
        if types & _OFFER_TYPES and ("price" in node or "lowprice" in node):
            yield {"@type": "Product", "offers": node}
            continue
        for key in ("mainentity", "about", "mainentityofpage"):
            main = _resolve(node.get(key), ctx)
            if isinstance(main, dict) and types_of(main) & _PRODUCT_TYPES:
                yield main


def products_from_nodes(
    nodes: list[Node], method: str, *, base_url: str, locale: str | None, currency: str | None
) -> list[Product]:
    """Interpret every product found in a syntax's nodes."""
    ctx = Context(base_url=base_url, locale=locale, currency=currency, index=_index(nodes))
    out: list[Product] = []
    seen: set[int] = set()
    for node in _product_nodes(nodes, ctx):
        if id(node) in seen:
            continue
        seen.add(id(node))
        # A ProductGroup's variants are also listed at the top level on some sites; skip those
        # that are variants of a group we already read.
        out.append(interpret(node, method, ctx))
    return out
