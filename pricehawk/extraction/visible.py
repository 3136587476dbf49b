"""Visible-page fallback: the price a shopper sees in the main buy box.

Every element whose class, id or test hook names a price is a candidate; each gets a score from
pure rules over its own attributes, its label text and its ancestors (buy box: up; carousel,
header, cart drawer: down). Instalments ("$29/mo"), savings badges, shipping fees and unit
prices are not prices; struck-through and "was" prices are list prices.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

import lxml.etree
from lxml.html import HtmlElement

from pricehawk.extraction.models import Candidate
from pricehawk.extraction.page import Page, elements, text_of
from pricehawk.extraction.prices import (
    decimal_separator_for,
    is_price_range,
    parse_price_text,
    split_price_range,
)
from pricehawk.extraction.words import Words

_PRICE_WORDS = (
    "price", "preis", "precio", "prix", "prezzo", "preco", "preço", "cena", "pris", "prc",
    "money", "amount", "cost", "uvp", "rrp", "msrp", "compare",
)  # fmt: skip
_HOOK_ATTRS = (
    "class", "id", "itemprop", "data-testid", "data-test", "data-qa", "data-automation",
    "data-hook", "data-test-id", "data-qa-id", "data-cy", "data-automation-id", "data-selector",
    "data-dmid", "data-selenium", "data-auto-id",
)  # fmt: skip
_HOOK_WORD = Words("|".join(_PRICE_WORDS))
# Tags a displayed price lives in. Links, list items, icons and form controls are left out on
# purpose: on real pages (mega menus, SVG sprites) iterating them costs more than everything else.
_PRICE_TAGS = (
    "span", "div", "p", "strong", "b", "ins", "del", "s", "strike", "dd", "dt", "bdi", "em",
    "small", "td", "label", "sup", "data", "h2", "h3", "h4", "h5", "h6", "section", "font",
    "output", "li",
)  # fmt: skip
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "meta", "link", "input", "select", "option",
     "button", "img", "svg", "form", "html", "body", "head", "title"}
)  # fmt: skip
_STRUCK_TAGS = frozenset({"del", "s", "strike"})


# Compiled once: an XPath string is compiled again on every call.
_SELECTED_OPTIONS = lxml.etree.XPath("//select//option[@selected]")
_CHECKED_INPUTS = lxml.etree.XPath("//input[(@type='radio' or @type='checkbox') and @checked]")
_LABEL_FOR = lxml.etree.XPath("//label[@for=$i]")


# Utility classes that strike a price through in CSS ("strike", "u__strike", "line-through").
_STRUCK_CLASS = Words(
    r"(?:^|[\s_-])(?:strike|strikethrough|strike-?through|line-?through|crossed|crossout|"
    r"strikeout|deleted|lthr)(?:$|[\s_-])"
)


def is_struck(el: HtmlElement) -> bool:
    """Struck through by its tag, an inline style (OpenCart's default theme) or a utility class
    whose only job is the strike ("strike", "line-through")."""
    if el.tag in _STRUCK_TAGS:
        return True
    style = el.get("style")
    if style and "line-through" in style:
        return True
    cls = el.get("class")
    return bool(cls and _struck_class(cls))


def _struck_class(cls: str) -> bool:
    # Substring checks first: this runs on every element of every page.
    return bool(
        ("trike" in cls or "hrough" in cls or "ross" in cls or "elet" in cls or "lthr" in cls)
        and _STRUCK_CLASS.search(cls)
    )


_DIGIT = re.compile(r"\d")
_ENDS_IN_DIGIT = re.compile(r"\d\s*$")
_TWO_DIGITS = re.compile(r"\d{2}")
_PRICE_IN_HOOK = Words(r"price")
_JUST_A_PRICE = re.compile(r"[^\d]{0,6}[\d.,'\s ]+[^\d]{0,6}")
_LETTER = re.compile(r"[^\W\d_]")
_AMOUNT = re.compile(r"\d[\d.,'’ ]*")
# A label may hold a count ("New (7) from"), never an amount: that would be another price.
_NUMBER_OR_MONEY = re.compile(r"\d[.,']?\d{2}|[$€£¥₹₩%]")
# A product page shows tens of prices; thousands means a listing or a hostile page.
_MAX_CANDIDATES = 400
_SR_ONLY = Words(
    r"sr-only|visually-?hidden|screen-?reader|visuallyhidden|assistive|a11y-only|u-hidden|"
    r"offscreen|sr-text"
)
# A child holding the minor units ("$19<span class="cents">99</span>") gets its separator back.
_CENTS = Words(r"cent|decimal|fraction|minor")

_BADGE = Words(r"sav(?:e|ing)|discount|percent|per-?unit|unit-?price|install?ment|financ|badge")
_CENTS_FRAGMENT = re.compile(r"\s*[.,€]?\d{1,2}\s*")  # ",99", "€99" (Cdiscount's "129€99")
_CAMEL_PART = re.compile(
    r"[a-z](?:Integer|Fraction|Decimal|Cents?|Symbol|Currency|CurrencyCode|Whole)(?![a-z])"
)
_SYMBOL_AFTER_UNITS = re.compile(r"\d\s*([€$£]|kr|zł|Kč|Ft|Lei)\s*$")

# Parts of a price that its container reads as a whole ("a-price-whole", "price__currency").
_PART = Words(
    r"(?:^|[-_ ])(?:whole|fraction|decimals?|cents?|symbol|currency|integer|dollars|int|dec|"
    r"characteristic|mantissa|mark|"
    r"sup|sub|label|title|heading|wrapper|container|tag|icon)(?:$|[-_ ])|price-?(?:label|title)"
)
_CURRENT = Words(
    r"sale|special|final|current|now|actual|offer|selling|our|deal|reduced|promo|(?<![a-z])dsc|"
    r"main|primary|pdp|product-?price|price-?large|big|display"
)
_LIST = Words(
    r"(?<![a-z])(?:was|old|(?<!with-)list)(?![a-z])|oldprice|wasprice|(?<!with-)listprice|(?<!with-)list-?price|regular|"
    r"compare|strike|original|origin|(?<![a-z])org(?![a-z])|rrp|msrp|mrp|before|crossed|retail|"
    r"previous|former|uvp|reference|secondary|"
    r"(?<![a-z])normal|standard|initial|non-?sale|crossout"
)
# Hooks that mark the price to pay strongly enough to outweigh a list-price word nearby.
_CURRENT_STRONG = Words(
    r"(?<!non-)(?<!non)sale(?!s-?tax)|special|final|current|(?<![a-z])now|actual|selling|reduced|promo|deal|"
    r"primary|price[-_]*discount|discount(?:ed)?[-_]*price"
)
_NOT_PRICE_ATTR = Words(
    r"sav(?:e|ing)|discount(?!ed)|percent|off(?:$|[-_ ])|per-?unit|unit-?price|"
    r"price-?per(?!-?sellable)|monthly|month|install?ment|(?:^|[-_ ])emi(?:$|[-_ ])|financ|"
    r"klarna|afterpay|affirm|sezzle|zip-?pay|shipping|delivery|coupon|"
    r"freight|(?:^|[-_ ])tax(?!-?in(?:cl?)?(?:$|[-_ ]))(?:$|[-_ ]|es)|points|reward|sub-?total|"
    r"(?:cart|order|grand|basket)-?total|"
    r"(?:^|[-_ ])range|filter|slider|price-?excl?(?:$|[-_ ])|ex-?vat|excl-?(?:vat|tax)|"
    r"(?<![a-z])net-?price|"
    r"price-?net(?:$|[-_ ])|"
    r"sort|facet|minicart|"
    r"cart-?price|alert|history|match|guarantee|compare-?at-?label|base-?price|grundpreis|"
    r"convert|approx|"
    r"eco-?part|deposit|pfand|tax-?info|availab|stock-?(?:amount|qty|count|level)"
)
_NOT_PRICE_TEXT = Words(
    r"\bsave\b|\byou save\b|\bsaving|\boff\b|%|/\s*(?:mo|month|mes|monat|mois|wk|week)\b|"
    r"\bper (?:month|mo|week)\b|\ba month\b|\bmonthly\b|\binstal+ments?\b|\bcuotas?\b|\bx\s*\d|"
    r"\d\s*x\b|\bshipping\b|\bdelivery\b|\bversand\b|\benv[ií]o\b|\blivraison\b|\bper\b|"
    r"\bspedizion[ei]\b|\bfrete\b|\bporto\b|\bkargo\b|geb[üu]hr|\bfrais\b|"
    r"/\s*(?:\d+\s*)?(?:kg|g|lb|oz|fl\.?\s?oz|l|ml|m|ea|each|unit|count|ct|st(?:k|ück)?)\b|"
    r"/\s*1\s*(?:st(?:k|ück)?|piece|pc|unit|ea|each|pièce|pieza|szt)\b|"
    r"\bunit price\b|/\s*(?:ounce|pound|item|piece|sheet|sq\.? ?ft|meter|metre|roll|pack)\b|"
    r"\bas low as\b|\btrade-?in\b|\bcoupon\b|\bgutschein\b|\bcup[oó]n\b|\bvoucher\b|\bapply\b|"
    r"\bbuy used\b|\bused from\b|\bgebraucht\b|\bd'occasion\b|\busato\b|\busado\b|"
    r"\bleft in stock\b|\bleft\b|\bauf lager\b|\bks\b|\bpcs\b|\bszt\b|\bstk\b|"
    # ratings and review counts: "★★★★★ (3482)", "4.7 out of 5", "1,204 reviews"
    r"[★☆]|\breviews?\b|\bratings?\b|\bout of 5\b|^\s*\(\s*\d[\d,.]*\s*\)\s*$|"
    # "Sale ends Jul 17, 2025", "valid until 31/07": a date, not an amount
    r"\bends\b|\buntil\b|\bexpires?\b|\bvalid\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,? "
    r"\d{4}\b|"
    r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|"
    r"^\s*(?:to|bis|hasta|até|tot|έως|до)\b|"
    r"^\s*\+|\d\s*\+\s*$|\bnew offers?\b|\bused offers?\b|\(\d+ offers?\)|\bbuying options\b|"
    r"\bprecio por\b|\bgrundpreis\b|\bprix au\b|\bpoints?\b|ポイント|포인트|적립|积分|"
    r"\bfrom\b|\bdesde\b|\bab\b|\bstarting\b|\bαπό\b|\bà partir de\b|\ba partire da\b|"
    r"\bsin impuestos\b|\bsem impostos\b|\bsans taxes\b|\bohne steuern\b|"
    r"\bdeposit\b|\bfee\b|\btax\b|\bbonus\b|\breward|"
    r"\d\s*(?:l|kg|g|ml|m|m²|stk|st|lb|oz)\s*=|\bdont\b|[ée]co-?part|\bpfand\b|"
    r"\b\d+\s+(?:for|für|por|pour|per)\s|\bbuy\s+\d|\bget\s+\d|\bexcl\b|\bexkl\b|"
    r"\bex\.?\s*(?:tax|vat|btw|gst|mwst)\b|\bhors taxes?\b|\bsin iva\b|\bohne mwst\b|"
    r"\bkdv hari[cç]\b|\bbez dph\b|\bbez vat\b|"
    r"\bz dostawą\b|\bwith delivery\b|\bincl(?:uding|\.)? (?:delivery|shipping)\b|"
    r"\bzzgl\.?\s*(?:mwst|ust)\b|\bzzgl\.?\s*$|kosten\b|\bplus vat\b|\bhors tva\b|"
    r"\binkl\.? versand\b|\bavec livraison\b|\bcon env[ií]o\b|"
    r"税抜|税別|本体価格|不含税"
)
_LIST_TEXT = Words(
    r"\bwas\b|\bbefore\b|\bregular\b|\breg\.?\b|\blist(?: price)?\b|\brrp\b|\bmsrp\b|\buvp\b|"
    r"\bstatt\b|\bantes\b|\bavant\b|\bprecio normal\b|\bnormal\b|\boriginal\b|\bcompare at\b|"
    r"\bprix de référence\b|\bvorher\b|\bprecio anterior\b|\bprix barré\b|\bnormalpreis\b|"
    r"\boriginal|\bursprünglich|\bmrp\b|\bfør\b|\bantes:|\bpreviously\b|"
    r"\bvalue\b|\bretail\b|\btypical\b|\bde:|\bdantes\b"
)
# Prices only members, card holders or subscribers pay (loyalty programmes): not the public price.
_MEMBER = Words(
    r"member|mitglied|membre|miembro|socio|loyalty|club(?:card)?|(?<![a-z])family|insider|"
    r"rewards?(?![a-z])|prime(?![a-z])|circle|(?<![a-z])cmr(?![a-z])|(?<![a-z])vip(?![a-z])|"
    r"lidl-? ?plus|plus价|plus-?price|会员|회원|와우|wow-?price|card-?holder|with (?:our|the) card|"
    r"(?<!product)card-?price|картой|with (?:\w+ )?card\b|con tarjeta|mit (?:der )?karte|"
    r"avec (?:la )?carte|"
    r"nectar|extracare|adh[ée]rent|advantage card|no pix|via pix|(?<![a-z])pix(?![a-z])|boleto"
)
# ... unless the label says the opposite ("Non-member price", "Pris utan IKEA Family").
_NON_MEMBER = Words(
    r"non-?\s?member|nicht-?mitglied|without|utan|uden|uten|ohne|sans|sin |senza|not a member|"
    r"nonmember"
)
_REGULAR_LABEL = Words(
    r"\bregular(?: price)?\b|\breg\.? price\b|\bnormal ?(?:price|preis)\b|\bprecio normal\b|"
    r"\bprix normal\b"
)
# EU Omnibus reference prices ("lowest price in the last 30 days"): never the price to pay.
_REFERENCE_TEXT = Words(
    r"\b30\s*(?:days?|dni|tage?n?|jours|giorni|d[ií]as|dagen|dn[ií]|nap|zile|päivää)\b|"
    r"lowest price|niedrigste|prix le plus bas|najniższa|prezzo più basso|precio más bajo|"
    r"laagste prijs|nejnižší|legalacsonyabb|cel mai mic"
)
_SALE_LABEL = Words(
    r"\bsale price\b|\bour price\b|\bdeal price\b|\bnow\b|\bangebot|\boferta\b|"
    r"\byour price\b|\byou pay\b|\bfinal price\b|\bafter (?:instant )?savings\b|"
    r"\bprecio final\b|\bendpreis\b|\bprix final\b|"
    r"促销价|活动价|到手价|优惠价|特価|セール価格|할인가|판매가"
)
_CURRENT_TEXT = Words(
    r"\bnow\b|\bsale\b|\bour price\b|\bprice\b|\bahora\b|\bjetzt\b|\bmaintenant\b|\boferta\b|"
    r"\bprecio\b|\bpreis\b|\bprix\b|\bdeal\b|\bspecial\b|\bsolo\b|\bonly\b|\bnur\b"
)
# Regions that show other products' prices or totals, never this product's.
_BAD_REGION = Words(
    r"related|recommend|carousel|similar|upsell|up-sell|cross-?sell|also|recent|viewed|suggest|"
    r"accessor|bundle|footer|header|other-?(?:sellers?|offers|buying)|more-?(?:sellers|offers)|"
    r"seller-?offer|offer-?listing|(?:^|[-_ ])nav|menu|mini-?cart|cart-?drawer|side-?cart|"
    r"sidebar|review|slider|swiper|slick|sponsor|widget|you-may|others|more-from|wishlist|"
    r"(?:^|[-_ ])reco|product-?card|product-?tile|product-?grid|product-?list|productcard|"
    r"product-?thumb|product-layout|"
    r"producttile|product-item(?:$|[-_ ]|s)|(?:^|[-_ ])plp|search-?result|listing|"
    r"frequently|complete-the-look|shop-the-look|promo-?banner|banner|modal(?![-_]price)|popup|newsletter|"
    r"product-?compare|compare-?(?:products|list|bar|widget|drawer|tray)|tooltip|price-?history|price-?alert|financ|klarna|afterpay|affirm|install?ment|"
    r"excluding-?tax|excl-?(?:vat|tax)|"
    r"warranty|protection|insurance|add-?on|gift-?wrap|service-?plan|care-?(?:plan|price|pack)|"
    r"subscri|"
    r"per-?unit|price-?per(?!-?sellable)|monthly|"
    r"shipping-?(?:info|cost|price|rate|option|estimate|calc)|"
    r"(?:^|[-_ ])emi(?:$|[-_ ])"
)
_BAD_REGION_TAGS = frozenset({"footer", "nav", "header", "aside", "dialog"})
_BUY_BOX = Words(
    r"buy-?box|product-?info|product-?detail|(?:^|[-_ ])pdp|product-?main|product__info|"
    r"product-?summary|product-?form|purchase|add-?to-?cart|product-?essential|product-?view|"
    r"product-?single|main-?product|product-?page|item-?detail|product_main|product-?hero|"
    r"price-?box|product-?price|buy-?section|product-?offer|offer-?box|summary"
)
_CURRENCY_IN_TEXT = re.compile(
    r"[$€£¥₹₩₽₺₪฿₫₱₴₦₸৳₲₡₾₼円원]|\b(?:USD|EUR|GBP|CAD|AUD|CLP|MXN|BRL|JPY|CHF|SEK|NOK|DKK|PLN|CZK|ARS|"
    r"COP|INR|NZD|AED|SAR|RON|HUF|TRY|PEN|ZAR|HKD|SGD|TWD|CNY|KRW|UAH|(?i:kr|zł|kč|ft|lei|tl)|"
    r"R\$|Rs\.?|RM|Rp|S/|R)(?:\b|\s|\d)|:-|,-|"
    r"\d(?i:tl|kr|zł|kč|ft|lei)\b",  # "4.299,90TL": a code glued to the amount
)
_ADD_TO_CART = re.compile(
    r"add to (?:cart|bag|basket|trolley)|buy now|in den warenkorb|añadir al carrito|"
    r"agregar al carr|ajouter au panier|aggiungi al carrello|adicionar ao carrinho|comprar|"
    r"in winkelwagen|do košíku|do koszyka|lägg i|læg i|legg i|sepete ekle|kosárba|adauga in cos|"
    r"カートに入れる|買い物かご|加入购物车|장바구니",
    re.IGNORECASE,
)

_OUT_OF_STOCK = Words(
    r"out of stock|sold out|currently unavailable|no longer available|unavailable|"
    r"notify me when|email me when|back in stock|agotado|sin stock|ausverkauft|"
    r"nicht (?:mehr )?(?:verfügbar|lieferbar)|épuisé|rupture de stock|esaurito|"
    r"non disponibile|esgotado|indisponível|uitverkocht|slutsåld|no disponible|"
    r"temporarily out|not available"
)
_PREORDER = Words(
    r"pre-?order|preventa|vorbestell|précommande|prenota|pré-venda|backorder|back-order"
)
_LIMITED = Words(
    r"only \d+ left|low stock|few left|limited stock|last \d+ (?:items?|units?)|quedan \d+|"
    r"nur noch \d+|plus que \d+|ultimi \d+|almost gone"
)
_IN_STOCK = Words(
    r"in stock|available|add to (?:cart|bag|basket)|buy now|en stock|auf lager|disponible|"
    r"in den warenkorb|añadir al carrito|agregar al carr|ajouter au panier|lieferbar|"
    r"ships (?:today|tomorrow|in)|ready to ship"
)


def availability_from_text(text: str) -> str | None:
    """Free text in a buy box ("Sold out", "Only 3 left", "Add to cart") -> our vocabulary."""
    if not text:
        return None
    if _PREORDER.search(text):
        return "preorder"
    if _OUT_OF_STOCK.search(text):
        return "out_of_stock"
    if _LIMITED.search(text):
        return "limited"
    if _IN_STOCK.search(text):
        return "in_stock"
    return None


@dataclass(frozen=True)
class VisibleReading:
    """What the visible page says (internal)."""

    price: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None
    confident: bool = False
    candidates: tuple[Candidate, ...] = ()
    availability: str | None = None


@dataclass(frozen=True)
class Scored:
    """One visible price with its score (internal)."""

    price: Decimal
    currency: str | None
    score: float
    is_list: bool
    in_buy_box: bool
    text: str
    order: int
    # List price only because a class says "regular"/"list": Magento's and Shopify's themes
    # name the *only* price that way when nothing is on sale.
    soft_list: bool = False
    # A members-only (loyalty, card holder) price; `public` when explicitly the non-member one.
    member: bool = False
    public: bool = False
    struck: bool = False  # struck through on the page (a list price whatever its region says)
    regular: bool = False  # labelled "Regular price": beside a member price, what others pay


_HOOK_ATTR_SET = frozenset(_HOOK_ATTRS)


def _hooks(el: HtmlElement) -> str:
    hooks = " ".join([v for a, v in el.items() if v and a in _HOOK_ATTR_SET])
    tag = el.tag
    if isinstance(tag, str) and "-" in tag:
        hooks = f"{hooks} {tag}"  # a custom element names itself: <cart-drawer>, <sale-price>
    return hooks


# Utility classes that hide an element in common CSS frameworks (Bootstrap, Magento, Tailwind).
_HIDDEN_CLASS = Words(
    r"(?:^|\s)(?:hidden|d-none|hide|is-hidden|no-display|display-none|invisible|u-hidden)(?:\s|$)"
)


def _hidden(el: HtmlElement) -> bool:
    """Hidden by attribute, inline style or a framework class (the markup has no CSS)."""
    if el.get("hidden") is not None:
        return True
    style = el.get("style")
    if style:
        style = style.replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style:
            return True
    cls = el.get("class")
    return bool(cls and _HIDDEN_CLASS.search(cls))


def price_text(el: HtmlElement, sep: str | None) -> str:
    """An element's text with struck-through parts left out and "$19<sup>99</sup>" as 19.99."""
    parts: list[str] = []

    def walk(node: HtmlElement, skip_struck: bool) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if (
                not isinstance(child.tag, str)
                or (skip_struck and is_struck(child))
                or child.tag in ("script", "style")
                or _SR_ONLY.search(child.get("class") or "~")
                or _BADGE.search(child.get("class") or "~")
            ):
                # struck-through: a list price; screen-reader copies: a duplicate sentence;
                # a "save 200 €" badge or a unit price inside the price container: not it
                pass
            elif _ENDS_IN_DIGIT.search("".join(parts[-1:])) and _TWO_DIGITS.fullmatch(
                (text_of(child) or "").strip()
            ):
                # Two digits in their own element right after the units are the cents
                # ("$19<sup>99</sup>", Home Depot's "<span>249</span><span>00</span>").
                parts.append((sep or ".") + (text_of(child) or "").strip())
            elif (
                child.tag == "sup"
                and _TWO_DIGITS.fullmatch((text_of(child) or "").strip())
                and (m := _SYMBOL_AFTER_UNITS.search("".join(parts[-1:])))
            ):
                # "199€<sup>99</sup>" (French shops): the symbol sits where the separator goes.
                parts[-1] = parts[-1][: m.start(1)]
                parts.append((sep or ".") + (text_of(child) or "").strip() + m.group(1))
            elif child.tag == "sup" or _CENTS.search(child.get("class") or "~"):
                walk(child, skip_struck)
            else:
                walk(child, skip_struck)
            if child.tail:
                parts.append(child.tail)

    walk(el, not is_struck(el))
    return " ".join("".join(parts).split())


_INLINE_TAGS = frozenset({"span", "bdi", "strong", "b", "em", "small", "ins", "sup", "data"})


def _label_text(el: HtmlElement) -> str:
    """The words right before the element (its label, e.g. "Was", "or 4 payments of") and the
    few characters right after it (a unit such as "/mo" or "/100g")."""
    bits: list[str] = []
    prev = el.getprevious()
    while prev is not None and not isinstance(prev.tag, str):
        prev = prev.getprevious()
    if prev is not None and not _LETTER.search(text_of(prev) or "") and not prev.tail:
        # "<em>¥</em><span>199.00</span>": the symbol is no label; look at the parent's.
        parent = el.getparent()
        pprev = parent.getprevious() if parent is not None else None
        if pprev is not None and isinstance(pprev.tag, str):
            ptext = " ".join(text_of(pprev).split())
            if len(ptext) <= 30 and not _DIGIT.search(ptext):
                bits.append(ptext)
    if prev is not None:
        prev_text = " ".join(text_of(prev).split())
        follows = _labels_follow_prices(prev, el)
        trailing = follows or _trailing_sr_label(prev)
        if len(prev_text) <= 30 and not _NUMBER_OR_MONEY.search(prev_text) and not trailing:
            bits.append(prev_text)  # a label element: <span>Was</span><s>$10</s>
        if follows:
            nxt = el.getnext()
            if nxt is not None:
                bits.append(" ".join(text_of(nxt).split()))  # this price's own label
        if prev.tail:
            bits.append(prev.tail[-40:])
    else:
        # The first child: the words before its container ("From: <span><bdi>$12.00</bdi>"),
        # looked for up to two levels up.
        parent = el.getparent()
        for _ in range(2):
            if parent is None:
                break
            if parent.text and parent.text.strip():
                bits.append(parent.text[-40:])
                break
            pprev = parent.getprevious()
            if pprev is not None:
                if isinstance(pprev.tag, str):
                    ptext = " ".join(text_of(pprev).split())
                    if len(ptext) <= 30 and not _DIGIT.search(ptext):
                        bits.append(ptext)
                break
            if parent.tag not in _INLINE_TAGS:
                break  # a block's neighbour labels the block, not the price inside it
            parent = parent.getparent()
    bits.extend(_after_text(el))
    return " ".join(" ".join(bits).split())


# What may follow a price and unmake it: a tax-exclusive mark, a per-month or offers count.
_AFTER_NOT_PRICE = Words(
    r"\bex\.?\s*(?:tax|vat|btw|gst|mwst)\b|\bexcl|\bexkl|\bnetto\b|\bhors taxes?\b|"
    r"\bsin iva\b|\bbez dph\b|/\s*(?:mo|month|mes|monat|mois)\b|\boffers?\b|\bbuying options\b|"
    r"\bzzgl\.?\s*(?:mwst|ust)|\bplus vat\b|\+\s*vat\b|\bhors tva\b|\bht\b"
)


def _after_text(el: HtmlElement) -> list[str]:
    """The few characters after a price: its tail, or when it ends its container, what follows
    the container ("<span class=a-price>...</span> (12 new offers)"); a following label element
    only when it unmakes the price ("£83.33 <span>ex. VAT</span>")."""
    node: HtmlElement | None = el
    for level in range(3):
        if node is None:
            break
        if node.tail and node.tail.strip():
            return [node.tail[:20]]
        nxt = node.getnext()
        if nxt is not None:
            if level == 0 and isinstance(nxt.tag, str):
                nxt_text = " ".join(text_of(nxt).split())
                if (
                    len(nxt_text) <= 20
                    and not _DIGIT.search(nxt_text)
                    and _AFTER_NOT_PRICE.search(nxt_text)
                ):
                    return [nxt_text]
            return []
        node = node.getparent()
    return []


def _labels_follow_prices(label: HtmlElement, el: HtmlElement) -> bool:
    """A layout that puts each price's description after it ("$48.00 <span>Regular
    Price</span> $38.00 <span>Sale Price</span>", Wix Stores): the label before `el` belongs to
    the price before the label, and `el`'s own label is the one after it."""
    before = label.getprevious()
    after = el.getnext()
    if before is None or after is None or not isinstance(after.tag, str):
        return False
    after_text = " ".join(text_of(after).split())
    return (
        label.tag != "dt"  # a definition list puts the term first, by definition
        and bool(_CURRENCY_IN_TEXT.search(text_of(before)))
        and 0 < len(after_text) <= 30
        and not _DIGIT.search(after_text)
        and after.tag == label.tag
        and (after.get("class") or "") == (label.get("class") or "")
    )


def _trailing_sr_label(label: HtmlElement) -> bool:
    """A screen-reader label that follows a price describes that price ("<del>$229.95</del>
    <span class=screen-reader-text>Previous price:</span><ins>$189.95</ins>")."""
    if not _SR_ONLY.search(label.get("class") or "~"):
        return False
    before = label.getprevious()
    return before is not None and bool(_DIGIT.search(text_of(before) or ""))


@dataclass(frozen=True)
class Region:
    """The ancestors' verdict on a candidate (internal)."""

    bad: bool
    buy_box: bool
    struck: bool
    list_hint: bool
    hidden: bool = False
    member: bool = False
    unselected: bool = False  # inside a tab or option the page shows as not selected


class RegionCache(dict[HtmlElement, Region]):
    """Regions by element for one page, and which option lists have a chosen item."""

    def __init__(self) -> None:
        super().__init__()
        self.option_lists: dict[HtmlElement, bool] = {}


def _region(
    el: HtmlElement,
    buy_box_root: HtmlElement | None,
    cache: RegionCache,
    title_path: frozenset[HtmlElement] = frozenset(),
    own_words: frozenset[str] = frozenset(),
) -> Region:
    """Walk up the ancestors once per element (results cached per ancestor).

    `own_words` are bad-region words the product's own title containers use ("bundle-title" on
    a bundle's page): there they name this product, not a neighbouring one."""
    chain: list[HtmlElement] = []
    node: HtmlElement | None = el.getparent()
    inherited = Region(False, False, False, False, False, False, False)
    while node is not None:
        got = cache.get(node)
        if got is not None:
            inherited = got
            break
        chain.append(node)
        node = node.getparent()
    for anc in reversed(chain):
        hooks = _hooks(anc)
        tag = anc.tag if isinstance(anc.tag, str) else ""
        # The containers of the product title hold this product, whatever their classes say
        # (WordPress puts "sale shipping-taxable" on the product's own wrapper).
        on_title_path = anc in title_path
        bad = inherited.bad or (
            not on_title_path
            and (
                (tag in _BAD_REGION_TAGS and (tag != "header" or _chrome(anc)))
                or bool(hooks and _bad_hooks(hooks, own_words))
                or _titled_other_products(anc)
            )
        )
        buy = (
            inherited.buy_box
            or anc is buy_box_root
            or bool(
                hooks
                and _BUY_BOX.search(hooks)
                and (on_title_path or not _BAD_REGION.search(hooks))
            )
        )
        struck = inherited.struck or is_struck(anc)
        list_hint = inherited.list_hint or bool(
            hooks and _PRICE_IN_HOOK.search(hooks) and _LIST.search(hooks)
        )
        hidden = inherited.hidden or _hidden(anc)
        # (Not <body>'s classes: they name the page type, as Mercado Libre's "vip-pdp" does.)
        member = inherited.member or bool(
            tag not in ("body", "html")
            and hooks
            and _MEMBER.search(hooks)
            and not _NON_MEMBER.search(hooks)
        )
        unselected = (
            inherited.unselected
            or anc.get("aria-selected") == "false"
            or _unchosen_option(anc, cache.option_lists)
        )
        inherited = Region(bad, buy, struck, list_hint, hidden, member, unselected)
        cache[anc] = inherited  # keyed by element: keeps the lxml proxy (and its id) alive
    return inherited


# Headings of sections that show other products ("Similar Products", "Das könnte dir auch
# gefallen"): on pages whose class names are obfuscated they are the only sign of such a section.
_OTHER_PRODUCTS_TITLE = Words(
    r"similar|related|you (?:may|might) (?:also )?like|also (?:viewed|bought|like)|recommended|"
    r"frequently bought|sponsored|customers who|people (?:also|who)|more from|recently viewed|"
    r"ähnliche|könnte (?:dir|ihnen) auch|kunden kauften|vous aimerez|produits similaires|"
    r"productos (?:similares|relacionados)|también te puede|produtos (?:similares|relacionados)|"
    r"prodotti (?:simili|correlati)|vergelijkbare|関連商品|おすすめ|추천|相似|推荐|猜你喜欢"
)


def _titled_other_products(el: HtmlElement) -> bool:
    """A section whose own heading (its first or second child) names other products."""
    for child in itertools.islice(el.iterchildren("h2", "h3", "h4"), 1):
        if el.index(child) <= 1:
            text = text_of(child)
            return len(text) <= 80 and bool(_OTHER_PRODUCTS_TITLE.search(text))
    return False


_CHOSEN_CLASS = re.compile(
    r"(?:^|[\s_-])(?:is-)?(?:selected|active|checked)(?:$|[\s_-])|[a-z]Select(?:ed)?\b"
)


def _chosen(item: HtmlElement) -> bool:
    """The page marks this option (or the control in it) as chosen: Amazon's "swatchSelect",
    "a-button-selected", aria-checked, a checked radio."""
    for el in itertools.islice(item.iter(), 6):
        if not isinstance(el.tag, str):
            continue
        if (
            _CHOSEN_CLASS.search(el.get("class") or "")
            or el.get("aria-selected") == "true"
            or el.get("aria-checked") == "true"
            or (el.tag == "input" and el.get("checked") is not None)
        ):
            return True
    return False


def _unchosen_option(el: HtmlElement, option_lists: dict[HtmlElement, bool]) -> bool:
    """A list item or radio label among options one of which the page marks as chosen, and not
    that one: its price is what another pack size, variant or purchase option would cost
    ("80ml × 1 16,900원", "Autoship $65.53" beside a checked "Buy once"). Whether a list has a
    chosen item is asked once per list (carousels hold tens of items)."""
    if el.tag not in ("li", "label") and el.get("role") not in ("radio", "option"):
        return False
    parent = el.getparent()
    if parent is None:
        return False
    has_chosen = option_lists.get(parent)
    if has_chosen is None:
        has_chosen = option_lists[parent] = any(
            isinstance(item.tag, str) and _chosen(item) for item in parent
        )
    return has_chosen and not _chosen(el)


def _member_mark_beside(el: HtmlElement) -> bool:
    """A members-only mark after the price in its own small container, which the label (the
    words before the price) does not read: "26,820원 <span>와우할인가</span> <img alt="로켓와우
    회원전용">" is the price for Coupang's WOW members."""
    node = el.getparent()
    for _ in range(2):
        if node is None:
            return False
        text = " ".join(text_of(node).split())
        if len(text) > 60 or len(_AMOUNT.findall(text)) > 1:
            return False  # a sentence or several prices: not this price's own mark
        alts = " ".join(img.get("alt") or "" for img in node.iter("img"))
        marks = f"{text} {alts}"
        if _MEMBER.search(marks):
            return not _NON_MEMBER.search(marks)
        node = node.getparent()
    return False


def _bad_hooks(hooks: str, own_words: frozenset[str]) -> bool:
    """Hooks that name a region of other products' prices (minus the page's own words)."""
    if not own_words:
        return bool(_BAD_REGION.search(hooks))
    return any(m.group(0).lower() not in own_words for m in _BAD_REGION.finditer(hooks))


_NEVER_OWN = frozenset(
    {"header", "footer", "nav", "menu", "sidebar", "modal", "popup", "banner", "newsletter"}
)


def own_region_words(page: Page) -> frozenset[str]:
    """Bad-region words on the product title and its containers, computed once per page."""
    if "own_words" not in page.memo:
        h1 = main_heading(page)
        words: set[str] = set()
        if h1 is not None:
            near = [h1, *list(h1.iterancestors())[:2]]
            for el in near:
                if el.tag in ("body", "html", "main"):
                    continue
                for m in _BAD_REGION.finditer(_hooks(el)):
                    words.add(m.group(0).lower())
        words -= _NEVER_OWN
        page.memo["own_words"] = frozenset(words)
    got: frozenset[str] = page.memo["own_words"]
    return got


# Regions no product title lives in (a narrower list than _BAD_REGION: the product's own
# container often carries words like "sale" or "shipping-taxable" among its classes).
_NOT_TITLE_REGION = Words(
    r"related|recommend|carousel|similar|upsell|cross-?sell|modal|popup|newsletter|"
    r"cart-?drawer|mini-?cart|product-?card|product-?tile|product-?grid|product-?list|"
    r"search-?result|listing"
)


def _chrome(el: HtmlElement) -> bool:
    """Site chrome: nav, footer, aside, or a <header> that is not inside the main content (a
    product's own <header> in <main> or <article> holds its title)."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in ("nav", "footer", "aside"):
        return True
    return tag == "header" and not any(a.tag in ("main", "article") for a in el.iterancestors())


def _main_heading(page: Page) -> HtmlElement | None:
    h1s = page.tags("h1")
    for h1 in h1s:
        if any(
            _chrome(a) or _NOT_TITLE_REGION.search(_hooks(a) or "~") for a in h1.iterancestors()
        ):
            continue
        return h1
    # A page's only h1 is its title even inside a "product-card" (some themes name the main
    # product's container that way); a page without one may title it with an h2 by the buy
    # button (Coupang's "prod-buy-header__title").
    outside = [h for h in h1s if not any(_chrome(a) for a in h.iterancestors())]
    if len(outside) == 1:
        return outside[0]
    if not h1s:
        for h in page.tags("h2", "h3"):
            if _TITLE_HOOK.search(_hooks(h) or "~") and not any(
                _NOT_TITLE_REGION.search(_hooks(a) or "~") for a in h.iterancestors()
            ):
                return h
    return None


_TITLE_HOOK = Words(r"title|product-?name|prod-?name|item-?name")


def _buy_box_root(doc: HtmlElement, h1: HtmlElement | None) -> HtmlElement | None:
    """The smallest ancestor of the product title that also holds an add-to-cart control."""
    if h1 is None:
        return None
    node = h1.getparent()
    depth = 0
    while node is not None and depth < 6 and node.tag not in ("body", "html"):
        for ctl in node.iter("button", "input", "a"):
            label = text_of(ctl) if ctl.tag != "input" else (ctl.get("value") or "")
            hooks = _hooks(ctl) + " " + (ctl.get("name") or "")
            if _ADD_TO_CART.search(label) or re.search(r"add-?to-?cart|addtocart|buy", hooks, re.I):
                return node
        node = node.getparent()
        depth += 1
    parent = h1.getparent()
    return parent.getparent() if parent is not None else None


_APPROX = re.compile(r"\(?\s*(?:approx|≈|ca\.|circa|environ|aprox)", re.IGNORECASE)
_NOW_TEXT = re.compile(
    r"\bnow\b|\bsale\b|\bour price\b|\btoday\b|\bahora\b|\bjetzt\b|\bnur\b|"
    r"\bmaintenant\b|\bpor:|\boferta\b|\bdeal\b",
    re.IGNORECASE,
)


def split_was_now(text: str) -> tuple[str, str | None]:
    """ "Was $99 Now $79" -> ("Now $79", "Was $99"), "$79 Reg. $99" -> ("$79", "Reg. $99");
    text without either shape -> (text, None)."""
    listed = _LIST_TEXT.search(text)
    if listed is None:
        return text, None
    first_digit = _DIGIT.search(text)
    if (
        first_digit is not None
        and first_digit.start() < listed.start()
        and _DIGIT.search(text, listed.end())
    ):
        return text[: listed.start()], text[listed.start() :]  # "$79.99 Reg. $99.99"
    for now in _NOW_TEXT.finditer(text):
        if now.start() > listed.start() and _DIGIT.search(text, now.end()):
            was = text[: now.start()]
            if _DIGIT.search(was):
                return text[now.start() :], was
    return text, None


def _list_word_leads(text: str) -> bool:
    """ "Was $99" is a list price; "$79 Reg. $99" is the current price followed by its list."""
    m = _LIST_TEXT.search(text)
    digit = _DIGIT.search(text)
    return bool(m and (digit is None or m.start() < digit.start()))


_MAIN_PRICE_HOOK = Words(
    r"product-?price|main-?price|sale-?price|current-?price|final-?price|price-?now"
)
_DISCOUNTED_PRICE = re.compile(
    r"price[-_]*discount(?:ed)?(?![-_]?(?:percent|rate|label|badge|amount))|"
    r"discount(?:ed)?[-_]*price",
    re.IGNORECASE,
)
_UNIT_HOOK = re.compile(r"per-?unit|unit-?price|price-?per(?!-?sellable)", re.IGNORECASE)


_STYLE_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def struck_classes(page: Page) -> frozenset[str]:
    """Classes the page's own <style> blocks strike through (".was{text-decoration:
    line-through}"), computed once per page; only simple selectors are read."""
    if "struck_classes" not in page.memo:
        found: set[str] = set()
        for style in page.tags("style"):
            css = style.text or ""
            if "line-through" not in css:
                continue
            for m in _STYLE_RULE.finditer(css):
                if "line-through" not in m.group(2):
                    continue
                for selector in m.group(1).split(","):
                    parts = selector.split()
                    if parts:
                        found.update(re.findall(r"\.([\w-]+)", parts[-1]))
        page.memo["struck_classes"] = frozenset(found)
    got: frozenset[str] = page.memo["struck_classes"]
    return got


def _css_struck(el: HtmlElement, page: Page) -> bool:
    classes = struck_classes(page)
    cls = el.get("class")
    return bool(classes and cls and not classes.isdisjoint(cls.split()))


_RANGE_END_LABELS = frozenset({"to", "bis", "à", "hasta", "até", "tot", "до", "έως", "a"})


def _note_range(page: Page, text: str, currency: str | None) -> None:
    """Remember a buy-box price range: with nothing else, its ends are the candidates."""
    parts = split_price_range(text)
    if parts is None or "range" in page.memo:
        return
    low, cur = parse_price_text(parts[0], locale=page.locale, currency=currency, url=page.url)
    high, cur2 = parse_price_text(parts[1], locale=page.locale, currency=currency, url=page.url)
    if low is not None and high is not None and low < high:
        page.memo["range"] = (low, high, cur or cur2 or currency, text)


def _not_price_hooks(hooks: str, *, unit_is_item: bool = False) -> bool:
    """Hooks that name something other than the price; a "unitPrice" id next to a
    "productPrice" class is the product's price (Yodobashi), whatever the id says, and so is
    any "unitPrice" on a Japanese page (単価, the price of one item: `unit_is_item`); and a
    "price--discount" class names the discounted price, not a discount badge."""
    if _DISCOUNTED_PRICE.search(hooks):
        hooks = _DISCOUNTED_PRICE.sub(" ", hooks)
    m = _NOT_PRICE_ATTR.search(hooks)
    if m is None:
        return False
    if _UNIT_HOOK.fullmatch(m.group(0)) and (unit_is_item or _MAIN_PRICE_HOOK.search(hooks)):
        rest = _NOT_PRICE_ATTR.search(_UNIT_HOOK.sub(" ", hooks))
        return rest is not None
    return True


def _bem_elements(hooks: str) -> str:
    """Each class reduced to its BEM element ("sales-price__former-price" -> "former-price"):
    the block names the widget, the element says which price this is."""
    if "__" not in hooks:
        return hooks
    return " ".join(token.rsplit("__", 1)[-1] for token in hooks.split())


def _score(
    el: HtmlElement,
    text: str,
    region: Region,
    *,
    order: int,
    page: Page,
    currency: str | None,
    is_list: bool | None = None,
    label: str | None = None,
) -> Scored | None:
    """Score one visible price reading (None: not a price at all); `is_list` forces the role;
    `label` replaces the words read around `el` (for text that is not all of `el`)."""
    # The cheap rejections first: most readings on a page are not prices at all.
    hooks = _hooks(el)
    unit_is_item = (page.locale or "").startswith("ja")
    if _NOT_PRICE_TEXT.search(text) or (
        hooks and _not_price_hooks(hooks, unit_is_item=unit_is_item)
    ):
        return None
    amount, cur = parse_price_text(text, locale=page.locale, currency=currency, url=page.url)
    if amount is None or amount == 0:
        return None
    if is_price_range(text):
        if region.buy_box and not region.bad:
            _note_range(page, text, currency)
        return None  # "$20.00 – $35.00": the variant is not chosen yet
    if label is None:
        label = _label_text(el)
    if _NOT_PRICE_TEXT.search(label) and not _CURRENT_TEXT.search(label):
        return None
    if region.unselected or el.get("aria-selected") == "false":
        return None  # the price of a tab or option the shopper has not chosen
    if label.strip().lower() in _RANGE_END_LABELS:
        return None  # "From $899 <To> $1,499": the end of a range
    if _REFERENCE_TEXT.search(label) or _REFERENCE_TEXT.search(text):
        return None  # "lowest price in the last 30 days": a legal reference, not a price
    if len(_AMOUNT.findall(text)) >= 2 and len(_CURRENCY_IN_TEXT.findall(text)) >= 2:
        return None  # two prices read as one ("1.599,90 TL1.249,90 TL"): a container
    # A long text is a container or a sentence, not a price display.
    if len(text) > 40:
        return None
    own = _bem_elements(hooks)
    hard_list = (
        is_struck(el)
        or _css_struck(el, page)
        or el.get("data-a-strike") == "true"
        or region.struck
        or _list_word_leads(text)
        or (bool(_LIST_TEXT.search(label)) and not _CURRENT_TEXT.search(text))
    )
    soft_list = not hard_list and (
        bool(hooks and _LIST.search(own) and not _CURRENT_STRONG.search(own))
        or (region.list_hint and not (hooks and _CURRENT_STRONG.search(hooks)))
    )
    public = bool(_NON_MEMBER.search(label) or _NON_MEMBER.search(hooks))
    member = not public and (
        region.member
        or bool(_MEMBER.search(hooks))
        or bool(_MEMBER.search(label))
        or bool(_MEMBER.search(text))
        or _member_mark_beside(el)
    )
    if public and not is_struck(el) and not region.struck:
        # "Non-member price $39.99" / "Pris utan IKEA Family 1 295:-": the public price, even
        # when the theme styles it like a previous price.
        hard_list = soft_list = False
    if is_list is None:
        is_list = hard_list or soft_list
    else:
        soft_list = False
    score = 1.0
    if el.get("itemprop") == "price":
        score += 2
    if hooks and _CURRENT.search(hooks):
        score += 1.5
    if _CURRENCY_IN_TEXT.search(text) or cur is not None:
        score += 1
    if _JUST_A_PRICE.fullmatch(text):
        score += 0.5  # the text is just a price, not a price inside a sentence
    if _SALE_LABEL.search(label) or _SALE_LABEL.search(text):
        score += 1  # "Sale price", "促销价": the shop says this one is the price to pay
    if region.buy_box:
        score += 3
    if region.bad:
        score -= 6
    score -= min(order, 200) * 0.002  # earlier on the page is likelier the main price
    struck = is_struck(el) or region.struck or _css_struck(el, page)
    regular = bool(_REGULAR_LABEL.search(label))
    return Scored(
        amount,
        cur,
        score,
        is_list,
        region.buy_box,
        text,
        order,
        soft_list,
        member,
        public,
        struck,
        regular,
    )


def _candidates(page: Page, currency: str | None, buy_box_only: bool) -> list[Scored]:
    doc = page.doc
    sep = decimal_separator_for(page.locale)
    root = buy_box(page)
    title_path = _title_path(page)
    own = own_region_words(page)
    els = price_elements(
        root if buy_box_only and root is not None else doc,
        custom_tags=page.memo.get("custom_price_tags", True),
    )
    ids = {id(e) for e in els}
    wrapped = _wrappers_of_prices(els, ids, sep)
    cache = RegionCache()
    out: list[Scored] = []
    for order, el in enumerate(els):
        if el.tag in _SKIP_TAGS or _hidden(el):
            continue
        region = _region(el, root, cache, title_path, own)
        if region.hidden or (region.bad and not region.buy_box and root is not None):
            # (A carousel's or a footer's price outside the buy box: on a page that has one,
            # such a reading can score at most 1.0, never the 1.5 a price needs.)
            continue
        hooks = _hooks(el)
        if _is_part(el, hooks) and any(
            id(a) in ids for a in itertools.islice(el.iterancestors(), 3)
        ):
            continue  # its container reads the whole price
        data_price = el.get("data-price-amount") or el.get("data-price")
        if id(el) in wrapped:
            continue  # a container: its priced children are read one by one
        text = price_text(el, sep)
        if not _DIGIT.search(text) and data_price:
            text = data_price
        if len(text) > 40:
            text = _short_price_child(el) or text
        head = _APPROX.split(text, maxsplit=1)[0]
        if _DIGIT.search(head):
            text = head  # "$19.99 (approx. €18.40)": the converted amount is a courtesy
        elif _APPROX.match(text):
            continue  # "≈ US$18.30" on its own: a conversion, not the price
        if not text or not _DIGIT.search(text):
            continue
        now_part, was_part = split_was_now(text)
        if was_part is not None:
            # "Was $99 Now $79" in one element: two readings, each with its role.
            for part, role in ((now_part, False), (was_part, True)):
                scored = _score(
                    el, part, region, order=order, page=page, currency=currency, is_list=role
                )
                if scored is not None:
                    out.append(_with_context_currency(scored, el, page))
            continue
        scored = _score(el, text, region, order=order, page=page, currency=currency)
        if scored is not None:
            out.append(_with_context_currency(scored, el, page))
    # (Product tiles inside a too-wide buy box score low: they are no reason to skip the scan.)
    if root is not None and not any(
        s.in_buy_box and not s.is_list and not s.member and s.score >= 1.5 for s in out
    ):
        out.extend(_text_scan(root, page, currency, cache, len(els), title_path, own))
        if not any(s.in_buy_box and not s.is_list for s in out):
            out.extend(_button_scan(root, page, currency, len(els)))
    return out


def _is_part(el: HtmlElement, hooks: str) -> bool:
    """A piece of a price ("a-price-whole", "price__currency"), not a whole price: a part-word
    hook and a text that is not a price on its own (ML's "andes-money-amount--cents-superscript"
    names a style of the whole amount)."""
    if _CENTS_FRAGMENT.fullmatch(text_of(el)):
        return True  # "<span class=price-centsPer>00</span>": the cents of a price around it
    if not (_PART.search(hooks) or _CAMEL_PART.search(hooks)):
        return False
    text = text_of(el).strip()
    first = _DIGIT.search(text)
    if first is None or not _CURRENCY_IN_TEXT.search(text):
        return True
    return first.start() > 0 and text[first.start() - 1] in ".,"  # ",99 €": the cents


def _with_context_currency(scored: Scored, el: HtmlElement, page: Page) -> Scored:
    """A bare amount ("1,099" inside "<sup>$</sup>...") takes the currency its container shows."""
    if scored.currency is not None:
        return scored
    for anc in itertools.islice(el.iterancestors(), 2):
        text = " ".join(text_of(anc).split())
        if len(text) > 60:
            break
        found = _CURRENCY_IN_TEXT.search(text)
        if found:
            _, cur = parse_price_text(text, locale=page.locale, currency=None, url=page.url)
            if cur is not None:
                return replace(scored, currency=cur)
    return scored


def _button_scan(root: HtmlElement, page: Page, currency: str | None, base: int) -> list[Scored]:
    """A price inside the add-to-cart button ("Add to bag · $34.00"): shops that show the price
    nowhere else. Read only when the buy box has no other current price."""
    out: list[Scored] = []
    for i, btn in enumerate(root.iter("button", "a")):
        label = " ".join(text_of(btn).split())
        if len(label) > 60 or not _ADD_TO_CART.search(label) or not _DIGIT.search(label):
            continue
        if not _CURRENCY_IN_TEXT.search(label) or _hidden(btn):
            continue
        rest = _ADD_TO_CART.sub(" ", label)
        if _NOT_PRICE_TEXT.search(rest) or is_price_range(rest):
            continue
        amount, cur = parse_price_text(rest, locale=page.locale, currency=currency, url=page.url)
        if amount is None or amount == 0:
            continue
        out.append(Scored(amount, cur, 4.0, False, True, label, base + i))
    return out


# Custom elements named for a price (Shopify themes' <sale-price>, <compare-at-price>).
_CUSTOM_PRICE_TAGS = lxml.etree.XPath(
    "descendant::*[contains(local-name(), '-price') or contains(local-name(), 'price-')]"
)


def price_elements(doc: HtmlElement, *, custom_tags: bool = True) -> list[HtmlElement]:
    """Elements whose class/id/test hook names a price, and struck-through amounts, in order
    (`doc` may also be a subtree). `custom_tags=False` skips the scan for <sale-price>-style
    elements (the caller knows the page has none: the scan costs as much as the rest)."""
    body = doc.find("body") if doc.tag == "html" else doc
    out = _price_elements(doc, body)
    if not custom_tags:
        return out
    custom = _CUSTOM_PRICE_TAGS(body if body is not None else doc)
    if custom and isinstance(custom, list):
        # Rare: merge them in document order (a position map costs one pass).
        seen = {id(e) for e in out}
        extra = [e for e in custom if isinstance(e, HtmlElement) and id(e) not in seen]
        if extra:
            position = {e: i for i, e in enumerate((body if body is not None else doc).iter())}
            out = sorted([*out, *extra], key=lambda e: position.get(e, 0))[:_MAX_CANDIDATES]
    return out


def _price_elements(doc: HtmlElement, body: HtmlElement | None) -> list[HtmlElement]:
    # This loop visits most elements of every page, so it reads each element's attributes once
    # (`items()`, one C call), asks no element its tag (the few <del>/<s> are collected in C
    # first) and searches the lower-cased hooks with the bare pattern.
    root = body if body is not None else doc
    struck_tags = set(root.iter(*_STRUCK_TAGS))
    hook_word = _HOOK_WORD.pattern.search
    out: list[HtmlElement] = []
    for el in root.iter(*_PRICE_TAGS):
        if len(out) >= _MAX_CANDIDATES:
            break
        struck = bool(struck_tags) and el in struck_tags
        hooked = False
        for attr, value in el.items():
            if attr in _HOOK_ATTR_SET and value:
                if attr == "class" and _struck_class(value):
                    struck = True
                    break
                hooked = hooked or hook_word(value.lower()) is not None
            elif attr == "style" and "line-through" in value:
                struck = True
                break
            elif attr == "data-price" or attr == "data-price-amount":
                hooked = True
        if struck:
            # "Was <s>$349.99</s>": a list price even without a price class.
            if _CURRENCY_IN_TEXT.search(text_of(el) or ""):
                out.append(el)
        elif hooked:
            out.append(el)
    return out


def _wrappers_of_prices(els: list[HtmlElement], ids: set[int], sep: str | None) -> set[int]:
    """Ids of candidates that contain another candidate with digits (not a price part, not
    struck-through: the container's own text leaves struck parts out and still reads)."""
    wrapped: set[int] = set()
    for d in els:
        hooks = _hooks(d)
        text = text_of(d)
        if (
            is_struck(d)
            or _PART.search(hooks)
            or _CAMEL_PART.search(hooks)
            or _CENTS_FRAGMENT.fullmatch(text)
            or not _DIGIT.search(text)
        ):
            continue
        for anc in d.iterancestors():
            key = id(anc)
            if key in wrapped:
                break  # the rest of the chain is marked already
            if key in ids:
                wrapped.add(key)
    return wrapped


def _short_price_child(el: HtmlElement) -> str | None:
    """In a price container with a long text ("$1,099.99 Your price for this item is..."), the
    first descendant whose own text is just an amount with a currency."""
    for d in el.iterdescendants():
        if not isinstance(d.tag, str) or is_struck(d) or _SR_ONLY.search(_hooks(d) or "~"):
            continue
        own = " ".join((d.text or "").split())
        if own and len(own) <= 25 and _CURRENCY_IN_TEXT.search(own) and _DIGIT.search(own):
            return own
    return None


def _text_scan(
    root: HtmlElement,
    page: Page,
    currency: str | None,
    cache: RegionCache,
    base: int,
    title_path: frozenset[HtmlElement],
    own_words: frozenset[str] = frozenset(),
) -> Iterable[Scored]:
    """Prices in the buy box that no class names: short text nodes with a currency, and text
    that follows an element inside its parent (one pass over the buy box)."""
    sep = decimal_separator_for(page.locale)
    for i, el in enumerate(root.iter()):
        if not isinstance(el.tag, str):
            continue
        if el.tag not in _SKIP_TAGS and el.tag != "h1":
            got = _own_text_reading(
                el, root, page, currency, cache, base + i, title_path, sep, own_words
            )
            if got is not None:
                yield got
        # Text after an element belongs to its parent: "<span>Sale Price:</span>$45.00 ...".
        tail = (el.tail or "").strip()
        if not tail or len(tail) > 30 or tail[0] in ".," or not _DIGIT.search(tail):
            continue
        parent = el.getparent()
        if parent is None or parent.tag in _SKIP_TAGS or not _CURRENCY_IN_TEXT.search(tail):
            continue
        if _hidden(parent):
            continue
        before = " ".join(text_of(el).split())
        label = before if len(before) <= 30 and not _DIGIT.search(before) else ""
        region = _region(parent, root, cache, title_path, own_words)
        scored = _score(
            parent, tail, region, order=base + i, page=page, currency=currency, label=label
        )
        if scored is not None:
            yield replace(scored, score=scored.score - 1.5, soft_list=False)


def _own_text_reading(
    el: HtmlElement,
    root: HtmlElement,
    page: Page,
    currency: str | None,
    cache: RegionCache,
    order: int,
    title_path: frozenset[HtmlElement],
    sep: str | None,
    own_words: frozenset[str] = frozenset(),
) -> Scored | None:
    own_text = (el.text or "").strip()
    if (
        len(el)
        and len(el) <= 4
        and el not in title_path
        and not (_CURRENCY_IN_TEXT.search(own_text) and _DIGIT.search(own_text))
    ):
        # "<strong><span>29,900</span>원</strong>", "899,<span>00</span> zł": a short
        # element whose whole text is one price (one amount, not "32 GB + $250.00").
        whole = text_of(el)
        if len(whole) <= 25 and len(_AMOUNT.findall(whole)) == 1:
            own_text = price_text(el, sep)
    if not own_text or len(own_text) > 30 or not _CURRENCY_IN_TEXT.search(own_text):
        return None
    if _SR_ONLY.search(el.get("class") or "~"):
        return None  # a screen-reader copy of a price shown next to it
    if not _DIGIT.search(own_text) or _hidden(el) or own_text[0] in ".,":
        return None
    region = _region(el, root, cache, title_path, own_words)
    scored = _score(el, own_text, region, order=order, page=page, currency=currency)
    return None if scored is None else replace(scored, score=scored.score - 1.5, soft_list=False)


def read_visible(page: Page, *, currency: str | None, buy_box_only: bool = False) -> VisibleReading:
    """The buy-box price, its list price and stock word, with a confidence.

    `buy_box_only` scans just the buy box: enough to check a structured price (only a buy-box
    reading may overrule it) and much cheaper on real pages, which are mostly not the buy box.
    """
    everything = _candidates(page, currency, buy_box_only)
    scored = _drop_member_prices(everything)
    if scored is None:
        # Only a member price and a higher one: which does the public pay? Not guessed.
        undecided: dict[Decimal, Scored] = {}
        for s in sorted(everything, key=lambda s: -s.score):
            if s.in_buy_box and (s.member or s.is_list):
                undecided.setdefault(s.price, s)
        cands = tuple(
            Candidate(s.price, s.currency or currency, "visible", s.text)
            for s in undecided.values()
        )
        return VisibleReading(candidates=cands, availability=_visible_availability(page))
    if not any(not s.is_list and s.score >= 1.5 for s in scored):
        # Nothing reads as the current price: a lone "regular" price is the price.
        soft = [s for s in scored if s.soft_list and not s.member]
        if len({s.price for s in soft}) == 1:
            scored = [
                replace(s, is_list=False) if s.soft_list and not s.member else s for s in scored
            ]
    current = sorted((s for s in scored if not s.is_list), key=lambda s: -s.score)
    availability = _visible_availability(page)
    if not current or current[0].score < 1.5:
        if "range" in page.memo:
            # "$59.00 – $89.00" and no variant chosen: undecided, with both ends as candidates.
            low, high, cur, text = page.memo["range"]
            cands = (
                Candidate(low, cur, "visible", text),
                Candidate(high, cur, "visible", text),
            )
            return VisibleReading(candidates=cands, availability=availability)
        return VisibleReading(availability=availability)
    best = current[0]
    rivals = [s for s in current[1:] if s.price != best.price and s.score >= best.score - 0.75]
    if rivals:
        pair = _discount_pair({best.price, *(r.price for r in rivals)}, _buy_box_percents(page))
        if pair is not None:
            now, was = pair
            chosen = next(s for s in [best, *rivals] if s.price == now)
            return VisibleReading(
                price=now,
                list_price=was,
                currency=chosen.currency,
                # The badge's arithmetic is the evidence: enough in the buy box to overrule
                # structured data that has not caught up with the sale.
                confident=chosen.in_buy_box,
                availability=availability,
            )
    if rivals:
        seen: dict[Decimal, Scored] = {}
        for s in [best, *rivals]:
            seen.setdefault(s.price, s)
        cands = tuple(
            Candidate(s.price, s.currency or currency, "visible", s.text) for s in seen.values()
        )
        return VisibleReading(candidates=cands, availability=availability)
    lists = sorted(
        (
            s
            for s in scored
            if s.is_list
            and s.price > best.price
            and (s.score >= best.score - 3 or (s.struck and s.in_buy_box))
        ),
        key=lambda s: -s.score,
    )
    confident = (
        best.in_buy_box
        and best.score >= 5
        and not any(s.price != best.price and s.score >= best.score - 2 for s in current[1:])
    )
    return VisibleReading(
        price=best.price,
        list_price=lists[0].price if lists else None,
        currency=best.currency,
        confident=confident,
        candidates=(),
        availability=availability,
    )


def _drop_member_prices(scored: list[Scored]) -> list[Scored] | None:
    """Members-only prices give way to the public price; None when a member price and a higher
    price are all there is and nothing says which one the public pays."""
    members = [s for s in scored if s.member and not s.is_list]
    if not members:
        return scored
    public = [s for s in scored if not s.member and not s.is_list and s.score >= 1.5]
    if public:
        return [s for s in scored if not (s.member and not s.is_list)]
    if any(s.soft_list and not s.member for s in scored):
        # "mit Lidl Plus 2.99" above a price the theme names "regular": that one is public.
        return [
            replace(s, is_list=False, soft_list=False) if s.soft_list else s
            for s in scored
            if not (s.member and not s.is_list)
        ]
    cheapest = min(m.price for m in members)
    regular = {s.price for s in scored if s.regular and s.in_buy_box and s.price > cheapest}
    if len(regular) == 1:
        # "$3.99 with Card", "Regular Price $6.49" (struck): the regular price is what
        # everyone without the card pays.
        return [
            replace(s, is_list=False, soft_list=False) if s.price in regular else s
            for s in scored
            if not (s.member and not s.is_list)
        ]
    if any(s.is_list and s.in_buy_box and s.price > cheapest for s in scored):
        return None  # "Club price $8, was $10": is $10 the public price or an old one?
    return scored


_PERCENT = re.compile(r"(\d{1,2}(?:[.,]\d)?)\s*%")


def _buy_box_percents(page: Page) -> list[Decimal]:
    """Discount percentages shown in the buy box ("-30%", "48% off")."""
    root = buy_box(page)
    if root is None:
        return []
    text = text_of(root)
    if len(text) > 5000:
        text = text[:5000]
    return [Decimal(m.group(1).replace(",", ".")) for m in _PERCENT.finditer(text)]


def _discount_pair(prices: set[Decimal], percents: list[Decimal]) -> tuple[Decimal, Decimal] | None:
    """The one pair of prices a "-30%" badge matches: (price, list price). Obfuscated themes
    strike the old price through in CSS only; the badge's arithmetic says which one it is
    (and which amount beside them, a waived delivery fee, is neither)."""
    if len(prices) < 2 or not percents:
        return None
    pairs = [
        (low, high)
        for low in prices
        for high in prices
        if 0 < low < high and any(abs((high - low) / high * 100 - p) <= 1 for p in percents)
    ]
    return pairs[0] if len(pairs) == 1 else None


def main_heading(page: Page) -> HtmlElement | None:
    """The product title element (see _main_heading), computed once per page."""
    if "h1" not in page.memo:
        page.memo["h1"] = _main_heading(page)
    h1: HtmlElement | None = page.memo["h1"]
    return h1


def _title_path(page: Page) -> frozenset[HtmlElement]:
    """The ancestors of the product title (a frozenset holds the lxml proxies alive)."""
    if "title_path" not in page.memo:
        h1 = main_heading(page)
        page.memo["title_path"] = frozenset(h1.iterancestors()) if h1 is not None else frozenset()
    path: frozenset[HtmlElement] = page.memo["title_path"]
    return path


def buy_box(page: Page) -> HtmlElement | None:
    """The page's buy box (see _buy_box_root), computed once per page."""
    if "buy_box" not in page.memo:
        page.memo["buy_box"] = _buy_box_root(page.doc, main_heading(page))
    root: HtmlElement | None = page.memo["buy_box"]
    return root


_STOCK_HOOK = Words(r"stock|availab")


def _visible_availability(page: Page) -> str | None:
    """Stock words near the buy box; a disabled add-to-cart button means out of stock."""
    root = buy_box(page)
    if root is None:
        return None
    for btn in root.iter("button", "input"):
        label = text_of(btn) if btn.tag == "button" else (btn.get("value") or "")
        if _ADD_TO_CART.search(label) and btn.get("disabled") is not None:
            return "out_of_stock"
    found = None
    for el in root.iter(*_PRICE_TAGS):
        hooks = (el.get("class") or "") + " " + (el.get("id") or "")
        if not _STOCK_HOOK.search(hooks):
            continue
        got = availability_from_text(" ".join(text_of(el).split())[:120])
        if got:
            return got
    for btn in root.iter("button", "input"):
        label = text_of(btn) if btn.tag == "button" else (btn.get("value") or "")
        if _PREORDER.search(label):
            return "preorder"  # the buy button itself says "Pre-order"
        if _ADD_TO_CART.search(label):
            found = "in_stock"  # an enabled add-to-cart control
    return found


def selected_option_tokens(page: Page) -> set[str]:
    """Values and labels of the variant options the page shows as selected."""
    doc = page.doc
    tokens: set[str] = set()
    for opt in elements(_SELECTED_OPTIONS, doc):
        tokens.update(_option_values(opt, text_of(opt)))
    for inp in elements(_CHECKED_INPUTS, doc):
        tokens.update(_option_values(inp, ""))
        inp_id = inp.get("id")
        if inp_id:
            for label in elements(_LABEL_FOR, doc, i=inp_id):
                tokens.update(_option_values(label, text_of(label)))
    # Swatches and size buttons live in the buy box; scanning only it keeps this cheap.
    scope = buy_box(page)
    for el in (scope if scope is not None else doc).xpath(
        ".//*[@aria-checked='true' or @aria-selected='true' or @aria-pressed='true' or "
        "contains(@class, 'selected') or contains(@class, 'active')]"
    ):
        cls = el.get("class") or ""
        if not (
            _SELECTED_CLASS.search(cls)
            or el.get("aria-checked")
            or el.get("aria-selected")
            or el.get("aria-pressed")
        ):
            continue
        if any(_VARIANT_HOOK.search(_hooks(a) or "~") for a in el.iterancestors()):
            tokens.update(_option_values(el, text_of(el)))
    tokens.discard("")
    return {t for t in tokens if t not in _PLACEHOLDERS and len(t) <= 60}


_SELECTED_CLASS = re.compile(r"(?:^|\s)(?:selected|is-selected|active|is-active)(?:\s|$)")
_VARIANT_HOOK = Words(r"variant|swatch|option|size|colou?r|picker|selector|attribute")
_PLACEHOLDERS = frozenset({"choose", "select", "choose an option", "select size", "-", "none"})


def _option_values(el: HtmlElement, text: str) -> set[str]:
    out = set()
    for attr in ("value", "data-value", "data-sku", "data-variant-id", "data-variant", "title"):
        v = el.get(attr)
        if v:
            out.add(v.strip().lower())
    if text:
        out.add(" ".join(text.split()).lower())
    return out
