"""`extract()`: one page in, one `ExtractionResult` out.

Order of reading: structured data (JSON-LD, microdata, RDFa, OpenGraph), then the retailer's
selectors, then the visible buy box. Order of trust when they disagree: what the shopper sees
(the retailer's selectors, then a confident buy-box reading) over structured data, with the
disagreement recorded. Conflicts nothing can settle make the result ambiguous, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.etree
from parsel import Selector

from pricehawk.extraction.health import (
    PageSignals,
    classify,
    health_for_status,
    page_signals,
    price_behind_login,
)
from pricehawk.extraction.models import Candidate, ExtractionResult, Offer
from pricehawk.extraction.page import Page, parse, text_of
from pricehawk.extraction.prices import (
    default_currency,
    normalise_currency,
    parse_price_text,
)
from pricehawk.extraction.scripts import ScriptPrice, read_script_price
from pricehawk.extraction.selectors import SelectorConfig
from pricehawk.extraction.structured import (
    Node,
    Product,
    json_ld_nodes,
    meta_tags,
    microdata_nodes,
    normalise_availability,
    opengraph_node,
    products_from_nodes,
    rdfa_nodes,
)
from pricehawk.extraction.visible import VisibleReading, read_visible, selected_option_tokens

# Compiled once: an XPath string is compiled again on every call.
_HAS_ITEMSCOPE = lxml.etree.XPath("boolean(//*[@itemscope])")


@dataclass
class Decision:
    """The price decision (internal, mutable while it is being made)."""

    price: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None
    method: str | None = None
    availability: str | None = None
    offer: Offer | None = None
    ambiguous: bool = False
    candidates: list[Candidate] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)


def extract(
    html: str | bytes,
    url: str,
    *,
    selectors: SelectorConfig | None = None,
    locale: str | None = None,
    currency: str | None = None,
    status: int | None = None,
) -> ExtractionResult:
    """Read the product on one page (see the module docstring for how it decides).

    `status` is the HTTP status the page came with, when known: an error status never yields a
    price, whatever the body holds.
    """
    config = selectors or SelectorConfig()
    locale = locale or config.locale
    currency = (currency or config.currency or "").upper() or None
    page = parse(html, url, locale=locale)
    if page is None:
        return ExtractionResult(url=url, health="empty_shell")
    fallback_currency = currency or default_currency(locale=page.locale, url=url)

    products = _structured_products(page, currency=currency)
    main = _main_products(products, page)
    sel = _selector_fields(page, config, currency=fallback_currency)
    visible = read_visible(
        page, currency=fallback_currency, buy_box_only=any(p.has_price for p in main)
    )
    signals = page_signals(page)
    has_data = bool(main) or "price" in sel or visible.price is not None or bool(visible.candidates)
    health = classify(signals, has_product_data=has_data)
    if health == "empty_shell" and _script_price(page) is not None:
        health = "ok"  # an app before rendering, whose own state already holds the product
    title = _title(main, sel, page)
    if health == "ok":
        health = health_for_status(status)
    if health != "ok":
        return ExtractionResult(url=url, title=title, health=health)

    decision = _decide(main, sel, visible, page, fallback_currency)
    primary = main[0] if main else None
    offers: tuple[Offer, ...] = ()
    if primary is not None:
        offers = tuple(
            _mark_selected(o, decision.offer) for o in primary.offers if o.price is not None
        )
        if len(offers) == 1 and not decision.ambiguous:
            offers = ()  # a lone offer *is* the result; variants are only worth listing when many
    if decision.price is not None and decision.currency is None:
        decision.currency = fallback_currency
    availability = (
        decision.availability
        or _sel_availability(sel)
        or _product_availability(primary)
        or visible.availability
    )
    chosen = decision.offer
    return ExtractionResult(
        url=url,
        title=title,
        price=decision.price,
        list_price=_sane_list_price(decision.price, decision.list_price),
        currency=decision.currency if decision.price is not None or decision.ambiguous else None,
        availability=availability,
        sku=_first_text(sel.get("sku"), chosen.sku if chosen else None, _pf(main, "sku")),
        gtin=_first_text(sel.get("gtin"), chosen.gtin if chosen else None, _pf(main, "gtin")),
        mpn=_first_text(sel.get("mpn"), chosen.mpn if chosen else None, _pf(main, "mpn")),
        brand=_first_text(sel.get("brand"), _pf(main, "brand")),
        image=_image(sel, main, page),
        method=decision.method if decision.price is not None else None,
        ambiguous=decision.ambiguous,
        candidates=tuple(decision.candidates),
        offers=offers,
        health=_health(decision, signals),
        disagreements=tuple(decision.disagreements),
    )


def _health(decision: Decision, signals: PageSignals) -> str:
    if decision.price is not None or decision.ambiguous:
        return "ok"
    return "login_wall" if price_behind_login(signals) else "no_price"


# --------------------------------------------------------------------------------------------
# Gathering


def _structured_products(page: Page, *, currency: str | None) -> list[Product]:
    def read(nodes: list[Node], method: str) -> list[Product]:
        return products_from_nodes(
            nodes, method, base_url=page.base_url, locale=page.locale, currency=currency
        )

    out = read(json_ld_nodes(page.tags("script")), "json-ld")
    # Substring tests on the source rule out the costly look for microdata and RDFa (an XPath
    # over every element costs about half the parse) on pages that carry none.
    if page.source_has(b"itemscope") and _HAS_ITEMSCOPE(page.doc):
        out += read(microdata_nodes(page.doc, page.base_url), "microdata")
    if page.source_has(b"typeof"):
        out += read(rdfa_nodes(page.doc, page.base_url), "rdfa")
    og = opengraph_node(_meta(page))
    if og is not None:
        out += read([og], "opengraph")
    return out


def _meta(page: Page) -> dict[str, str]:
    if "meta" not in page.memo:
        page.memo["meta"] = meta_tags(page.tags("meta"))
    got: dict[str, str] = page.memo["meta"]
    return got


def _same_page(a: str | None, b: str) -> bool:
    if not a:
        return False
    pa, pb = urlsplit(a), urlsplit(b)
    return pa.path.rstrip("/") == pb.path.rstrip("/") and (
        not pa.netloc or pa.netloc.lower() == pb.netloc.lower()
    )


def _main_products(products: list[Product], page: Page) -> list[Product]:
    """One product per syntax, best first: the page's own product, not a related one."""
    by_method: dict[str, list[Product]] = {}
    for p in products:
        by_method.setdefault(p.method, []).append(p)
    chosen: list[Product] = []
    for method in ("json-ld", "microdata", "rdfa", "opengraph"):
        group = by_method.get(method, [])
        if not group:
            continue
        chosen.append(pick_main_product(group, page.url, _heading(page)))
    return chosen


def pick_main_product(group: list[Product], page_url: str, heading: str | None = None) -> Product:
    """The product this page is about: its (or an offer's) URL is the page's, then its name is
    the page heading, then it has a price; the first wins ties. (A canonical URL often differs
    from the fetched one, so a URL mismatch alone never demotes a product.)"""

    def rank(p: Product) -> tuple[bool, bool, bool]:
        here = _same_page(p.url, page_url) or any(_same_page(o.url, page_url) for o in p.offers)
        named = bool(heading and p.name and _norm(p.name) == _norm(heading))
        return (here, named, p.has_price)

    return max(group, key=rank)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _selector_fields(page: Page, config: SelectorConfig, *, currency: str | None) -> dict[str, str]:
    """Selector values: the first match per field (the price handled like visible text)."""
    if not config.fields:
        return {}
    sel = Selector(root=page.doc)
    out: dict[str, str] = {}
    for name in config.fields:
        values = config.values(name, sel)
        if values:
            out[name] = values[0]
    return out


# --------------------------------------------------------------------------------------------
# Deciding


def _decide(
    main: list[Product],
    sel: dict[str, str],
    visible: VisibleReading,
    page: Page,
    fallback_currency: str | None,
) -> Decision:
    d = Decision()
    structured = _structured_decision(main, visible, page)
    sel_price, sel_cur = (None, None)
    if "price" in sel:
        sel_price, sel_cur = parse_price_text(
            sel["price"], locale=page.locale, currency=fallback_currency, url=page.url
        )
    if sel_price is not None:
        d.price, d.method = sel_price, "selectors"
        d.currency = (
            normalise_currency(sel.get("currency_text"), locale=page.locale, url=page.url)
            or sel_cur
            or structured.currency
        )
        if "list_price" in sel:
            d.list_price = parse_price_text(
                sel["list_price"], locale=page.locale, currency=fallback_currency, url=page.url
            )[0]
        d.list_price = d.list_price or structured.list_price
        if structured.price is not None and structured.price != sel_price:
            d.disagreements.append(
                f"{structured.method} price {structured.price} != selectors price {sel_price};"
                " used selectors"
            )
        elif structured.price == sel_price:
            d.method = structured.method
            d.offer = structured.offer
        d.disagreements = structured.disagreements + d.disagreements
        return d

    if structured.price is not None:
        if structured.currency is None and visible.price == structured.price:
            structured.currency = visible.currency
        differs = (
            visible.price is not None
            and visible.price != structured.price
            and not _same_value_other_currency(structured, visible)
        )
        if differs and visible.price is not None and same_digits(visible.price, structured.price):
            if lost_decimal_reading(visible.price, structured.price) == visible.price:
                _use_visible(structured, visible, "lost decimal point")
            else:
                structured.disagreements.append(
                    f"visible price {visible.price} is {structured.method} price "
                    f"{structured.price} without its decimal point; kept {structured.method}"
                )
        elif differs and visible.confident:
            _use_visible(structured, visible, "the shopper sees it")
        elif differs:
            structured.disagreements.append(
                f"{structured.method} price {structured.price} != visible price {visible.price}"
                f" (low confidence); kept {structured.method}"
            )
        if (
            structured.list_price is None
            and visible.list_price is not None
            and visible.price == structured.price
        ):
            structured.list_price = visible.list_price
        return structured

    if structured.ambiguous:
        return _settle_by_script(structured, page) or structured

    if visible.price is not None:
        d.price, d.method = visible.price, "visible"
        d.list_price = visible.list_price
        d.currency = visible.currency
        d.disagreements = structured.disagreements
        return d
    if len(visible.candidates) > 1:
        d.ambiguous = True
        d.candidates = list(visible.candidates)
    d.disagreements = structured.disagreements
    return _settle_by_script(d, page) or d


def _script_price(page: Page) -> ScriptPrice | None:
    """The page's script price, read once (the empty-shell check and the decision both ask)."""
    if "script_price" not in page.memo:
        page.memo["script_price"] = read_script_price(page, _heading(page))
    got: ScriptPrice | None = page.memo["script_price"]
    return got


def _settle_by_script(d: Decision, page: Page) -> Decision | None:
    """A price the page draws with JavaScript (see scripts.py), when nothing else gave one; with
    candidates on the table it must be one of them or inside their range."""
    got = _script_price(page)
    if got is None:
        return None
    if d.candidates:
        values = [c.price for c in d.candidates]
        if got.price not in values and not min(values) <= got.price <= max(values):
            return None
        cur = got.currency or d.currency or d.candidates[0].currency
    else:
        cur = got.currency or d.currency
    return Decision(
        price=got.price,
        currency=cur,
        method="script",
        disagreements=[*d.disagreements, f"price drawn by script ({got.source})"],
    )


def _use_visible(d: Decision, visible: VisibleReading, why: str) -> None:
    """Replace a structured decision by the visible price, recording the disagreement."""
    d.disagreements.append(
        f"{d.method} price {d.price} != visible price {visible.price}; used visible ({why})"
    )
    d.price = visible.price
    d.method = "visible"
    d.list_price = visible.list_price
    d.currency = visible.currency or d.currency
    d.offer = None


def lost_decimal_reading(a: Decimal, b: Decimal) -> Decimal:
    """Of two readings with the same digits, the real price: one with more than two decimals is
    a misplaced thousands separator ("1.299" for 1299), otherwise a lost decimal point only
    ever inflates, so the smaller one."""
    plausible = [x for x in (a, b) if _decimals(x) <= 2] or [a, b]
    return min(plausible)


def _decimals(x: Decimal) -> int:
    exponent = x.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def same_digits(a: Decimal, b: Decimal) -> bool:
    """True when two amounts differ only by a lost decimal point ("$429<span>00</span>" read as
    42900 against 429.00): a formatting artefact, not a disagreement."""

    def digits(x: Decimal) -> str:
        return re.sub(r"\D", "", format(x, "f")).rstrip("0").lstrip("0")

    return a != b and digits(a) == digits(b) and max(a, b) >= min(a, b) * 10


def _same_value_other_currency(structured: Decision, visible: VisibleReading) -> bool:
    """A visible price in a converted currency (geo pricing widgets) is not a disagreement."""
    return (
        visible.currency is not None
        and structured.currency is not None
        and visible.currency != structured.currency
    )


def _structured_decision(main: list[Product], visible: VisibleReading, page: Page) -> Decision:
    """Price from structured data, variants resolved on evidence; cross-syntax disagreements."""
    d = Decision()
    readings: list[tuple[Product, Decision]] = []
    for product in main:
        pd = _product_decision(product, visible, page)
        if pd.price is not None or pd.ambiguous:
            readings.append((product, pd))
    if not readings:
        return d
    product, best = readings[0]
    for other, od in readings[1:]:
        if od.price is not None and best.price is not None and od.price != best.price:
            best.disagreements.append(
                f"{product.method} price {best.price} != {other.method} price {od.price}"
            )
    if best.price is not None and any(
        od.price is not None and od.price != best.price for _, od in readings[1:]
    ):
        # Two structured syntaxes disagree: the visible page settles it if it can.
        values = {od.price for _, od in readings if od.price is not None}
        if visible.price in values:
            for _, od in readings:
                if od.price == visible.price:
                    od.disagreements = best.disagreements
                    return od
    if best.list_price is None:
        for _, od in readings[1:]:
            if od.price == best.price and od.list_price is not None:
                best.list_price = od.list_price
                break
    return best


def _product_decision(product: Product, visible: VisibleReading, page: Page) -> Decision:
    d = Decision(method=product.method)
    priced = [o for o in product.offers if o.price is not None]
    if not priced and product.price_range is not None:
        low, high, cur = product.price_range
        if visible.price is not None and low <= visible.price <= high:
            d.price, d.currency, d.method = visible.price, cur or visible.currency, "visible"
            d.disagreements.append(f"{product.method} range {low}-{high}; visible price used")
            return d
        d.ambiguous = True
        d.currency = cur
        d.candidates = [
            Candidate(low, cur, product.method, "lowPrice"),
            Candidate(high, cur, product.method, "highPrice"),
        ]
        return d
    if not priced:
        return d
    offer, candidates = choose_offer(priced, page, visible)
    candidates = [replace(c, method=product.method) for c in candidates]
    if offer is None:
        d.ambiguous = True
        d.currency = priced[0].currency
        d.candidates = candidates
        return d
    d.offer = offer
    d.price = offer.price
    d.list_price = offer.list_price
    d.currency = offer.currency
    d.availability = offer.availability
    return d


def choose_offer(
    offers: list[Offer], page: Page, visible: VisibleReading
) -> tuple[Offer | None, list[Candidate]]:
    """The offer the page shows, on evidence; (None, candidates) when nothing decides."""
    prices = {o.price for o in offers}
    if len(prices) == 1:
        in_stock = [o for o in offers if o.availability in ("in_stock", "limited")]
        evidence = _offers_by_evidence(offers, page)
        if len(evidence) == 1:
            return evidence[0], []
        return (in_stock or offers)[0], []
    # Currencies differ (a multi-currency shop lists one offer per currency): same thing twice.
    evidence = _offers_by_evidence(offers, page)
    if len({o.price for o in evidence}) == 1:
        return evidence[0], []
    pool = evidence or offers
    if visible.price is not None:
        matching = [o for o in pool if o.price == visible.price]
        if matching:
            return matching[0], []
    seen: set[Decimal | None] = set()
    candidates: list[Candidate] = []
    for o in pool:
        if o.price is None or o.price in seen:
            continue
        seen.add(o.price)
        label = ", ".join(x for x in (o.name, o.sku and f"sku {o.sku}") if x)
        candidates.append(Candidate(o.price, o.currency, "offer", label))
    return None, candidates


def _offers_by_evidence(offers: list[Offer], page: Page) -> list[Offer]:
    """Offers the URL or the selected options point at (empty when nothing points)."""
    query = dict(parse_qsl(urlsplit(page.url).query))
    values = {v.lower() for v in query.values() if v}
    by_url = [o for o in offers if o.url and _same_query(o.url, page.url, query)]
    if by_url:
        return by_url
    by_id = [
        o
        for o in offers
        if values & {x.lower() for x in (o.sku, o.gtin, o.mpn) if x}
        or (o.url and values & {v.lower() for _, v in parse_qsl(urlsplit(o.url).query)})
    ]
    if by_id:
        return by_id
    tokens = selected_option_tokens(page)
    if tokens:
        by_sku = [o for o in offers if o.sku and o.sku.lower() in tokens]
        if by_sku:
            return by_sku
        by_name = [
            o
            for o in offers
            if o.name and any(t in _words(o.name) for t in tokens if not t.isdigit())
        ]
        if 0 < len(by_name) < len(offers):
            return by_name
    return []


def _words(text: str) -> set[str]:
    low = text.lower()
    return set(re.split(r"[\s,/|()\-–:]+", low)) | {low}


def _same_query(offer_url: str, page_url: str, query: dict[str, str]) -> bool:
    if not query:
        return False
    oq = dict(parse_qsl(urlsplit(offer_url).query))
    return bool(oq) and oq == query and _same_page(offer_url, page_url)


def _mark_selected(offer: Offer, chosen: Offer | None) -> Offer:
    return replace(offer, selected=chosen is not None and offer is chosen)


# --------------------------------------------------------------------------------------------
# Other fields


def _sane_list_price(price: Decimal | None, list_price: Decimal | None) -> Decimal | None:
    """A "was" price only means something above the price."""
    if list_price is None or price is None or list_price <= price:
        return None
    return list_price


def _pf(main: list[Product], name: str) -> str | None:
    for p in main:
        value = getattr(p, name)
        if value:
            return str(value)
    return None


def _first_text(*values: str | None) -> str | None:
    for v in values:
        if v and v.strip():
            return " ".join(v.split())
    return None


def _heading(page: Page) -> str | None:
    """The page's h1, or without one (an app before rendering) its <title>."""
    h1 = next(iter(page.tags("h1")), None)
    if h1 is None:
        h1 = next(iter(page.tags("title")), None)
    return " ".join(text_of(h1).split()) if h1 is not None else None


def _title(main: list[Product], sel: dict[str, str], page: Page) -> str | None:
    if sel.get("title"):
        return sel["title"]
    name = _pf(main, "name")
    if name:
        return name
    h1 = next(iter(page.tags("h1")), None)
    if h1 is not None:
        text = " ".join(text_of(h1).split())
        if text:
            return text
    title = next(iter(page.tags("title")), None)
    if title is not None and title.text:
        return " ".join(title.text.split()) or None
    return None


def _image(sel: dict[str, str], main: list[Product], page: Page) -> str | None:
    if sel.get("image"):
        return urljoin(page.base_url, sel["image"])
    found = _pf(main, "image")
    if found:
        return found
    meta = _meta(page)  # og:image even on pages whose og:type is not "product"
    for key in ("og:image:secure_url", "og:image", "twitter:image"):
        if meta.get(key) and not meta[key].startswith("data:"):
            return urljoin(page.base_url, meta[key])
    return None


def _sel_availability(sel: dict[str, str]) -> str | None:
    text = sel.get("availability")
    if not text:
        return None
    from pricehawk.extraction.visible import availability_from_text

    return normalise_availability(text) or availability_from_text(text)


def _product_availability(product: Product | None) -> str | None:
    if product is None:
        return None
    for o in product.offers:
        if o.availability:
            return o.availability
    return None
