"""Parsing a page once: decoding, the lxml tree, locale and base URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html
from lxml.html import HtmlElement
from w3lib.encoding import html_to_unicode

from pricehawk.extraction.prices import country_from_url, normalise_locale

_CUSTOM_PRICE_TAG = re.compile(r"<[a-zA-Z][\w-]*-price\b|<price-[a-zA-Z]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """A parsed page and the facts every extraction step needs."""

    doc: HtmlElement
    url: str
    base_url: str
    locale: str | None
    # Facts several steps need (the main heading, the buy box), computed once per page.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def decode(html: str | bytes) -> str:
    """Bytes -> text using BOM, then the page's declared charset, then a UTF-8 guess."""
    if isinstance(html, str):
        return html
    _, text = html_to_unicode(None, html)
    return text


def parse(html: str | bytes, url: str, *, locale: str | None = None) -> Page | None:
    """Parse a page; None when it is not HTML we can read at all."""
    text = _XML_DECL.sub("", decode(html).replace("\x00", ""), count=1)
    if not text.strip():
        return None
    try:
        doc = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None
    base = url
    # lxml's find() walks in Python; iter(tag) filters in C (this runs on every page).
    base_el = next((b for b in doc.iter("base") if b.get("href")), None)
    if base_el is not None:
        base = urljoin(url, base_el.get("href", ""))
    page = Page(doc=doc, url=url, base_url=base, locale=locale or page_locale(doc, url))
    # Whether any custom element is named for a price (<sale-price>): a regex over the source
    # is ten times cheaper than looking for them in the tree.
    page.memo["custom_price_tags"] = bool(_CUSTOM_PRICE_TAG.search(text))
    return page


def page_locale(doc: HtmlElement, url: str) -> str | None:
    """The page's locale: `<html lang>` or og:locale, with the region taken from the domain.

    A bare "es" on a .mx shop is es_MX (dot decimals), on a .cl shop es_CL (comma decimals).
    A country domain also beats the page's own region: themes ship "en-US" everywhere, but a
    .ca shop charges CAD.
    """
    lang = doc.get("lang") or doc.get("xml:lang")
    if not lang:
        for meta in doc.iter("meta"):
            if (meta.get("property") or "").lower() == "og:locale":
                lang = meta.get("content")
                break
    norm = normalise_locale(lang)
    country = country_from_url(url)
    if norm is None:
        return None
    if country is not None:
        return f"{norm.split('_', 1)[0]}_{country}"
    return norm
