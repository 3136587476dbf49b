"""Parsing a page once: decoding, the lxml tree, locale and base URL."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html
from lxml.html import HtmlElement
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, read_bom

from pricehawk.extraction.prices import country_from_url, normalise_locale

_CUSTOM_PRICE_TAG = re.compile(rb"<[a-zA-Z][\w-]*-price\b|<price-[a-zA-Z]")
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_UTF8_VALUE = re.compile(rb"[\s=\"']*utf-?8(?![\w-])")


# Tags several steps read. One pass over the tree collects them all: a pass per step cost about
# a tenth of the parse each, and there were a dozen.
_INDEXED_TAGS = (
    "base", "title", "meta", "script", "style", "template", "noscript", "iframe", "form",
    "input", "h1", "h2", "h3",
)  # fmt: skip


@dataclass(frozen=True)
class Page:
    """A parsed page and the facts every extraction step needs."""

    doc: HtmlElement
    url: str
    base_url: str
    locale: str | None
    # The elements of _INDEXED_TAGS in document order, their tags, and the same by tag.
    indexed: tuple[HtmlElement, ...] = field(default=(), compare=False, repr=False)
    indexed_tags: tuple[str, ...] = field(default=(), compare=False, repr=False)
    by_tag: dict[str, list[HtmlElement]] = field(default_factory=dict, compare=False, repr=False)
    # The source, lower-cased, for substring tests that can rule out a costly look at the tree.
    lower_source: bytes = field(default=b"", compare=False, repr=False)
    # Facts several steps need (the main heading, the buy box), computed once per page.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def tags(self, *names: str) -> list[HtmlElement]:
        """The page's elements of these indexed tags, in document order (like `doc.iter`)."""
        if len(names) == 1:
            return self.by_tag.get(names[0], [])
        wanted = set(names)
        return [
            el for el, tag in zip(self.indexed, self.indexed_tags, strict=True) if tag in wanted
        ]

    def source_has(self, word: bytes) -> bool:
        """Whether the page source contains `word` (lower-case), in any letter case."""
        return word in self.lower_source


def elements(xpath: lxml.etree.XPath, node: HtmlElement, **variables: str) -> list[HtmlElement]:
    """The elements a compiled XPath selects (typed; strings and numbers are left out)."""
    found = xpath(node, **variables)
    return [e for e in found if isinstance(e, HtmlElement)] if isinstance(found, list) else []


def text_of(el: HtmlElement) -> str:
    """`el.text_content()`, serialised in C: twice as fast as lxml.html's XPath "string()",
    and extraction asks for the text of tens of elements per page."""
    return lxml.etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def decode(html: str | bytes) -> str:
    """Bytes -> text using BOM, then the page's declared charset, then a UTF-8 guess."""
    if isinstance(html, str):
        return html
    _, text = html_to_unicode(None, html)
    return text


def _utf8_source(html: str | bytes) -> bytes:
    """The page as UTF-8 bytes, decoded the way `decode` would read it.

    lxml parses bytes with a known encoding a third faster than a Python str, and substring
    tests on bytes are several times faster than on text, so UTF-8 pages (nearly all) are never
    turned into a str at all; other charsets are decoded by w3lib first."""
    if isinstance(html, str):
        return html.encode("utf-8", "replace")
    bom_encoding, bom = read_bom(html)
    if bom_encoding is None and _declared_encoding(html) in (None, "utf-8"):
        return html  # invalid sequences become U+FFFD in lxml exactly as in bytes.decode()
    if bom_encoding == "utf-8" and bom is not None:
        return html[len(bom) :]
    return decode(html).encode("utf-8", "replace")


def _declared_encoding(html: bytes) -> str | None:
    """html_body_declared_encoding() without its tag-by-tag scan of the head, for the usual
    page: one that spells "charset" once in its first 4 KiB, as UTF-8, and has no XML
    declaration. (A meta tag can declare an encoding only by spelling "charset", so a page
    that spells it once declares nothing else.)"""
    head = html[:4096].lower()
    at = head.find(b"charset")
    if (
        at >= 0
        and b"encoding" not in head
        and head.find(b"charset", at + 7) < 0
        and _UTF8_VALUE.match(head, at + 7)
    ):
        return "utf-8"
    return html_body_declared_encoding(html)


# lxml parsers are best not shared between threads (the crawler and portal extract in several).
_PARSERS = threading.local()


def _utf8_parser() -> lxml.html.HTMLParser:
    parser = getattr(_PARSERS, "utf8", None)
    if parser is None:
        parser = _PARSERS.utf8 = lxml.html.HTMLParser(encoding="utf-8")
        # Every element is a plain HtmlElement, chosen in C: lxml.html's own lookup calls back
        # into Python for each element touched (to hand out FormElement, InputElement...,
        # which extraction never uses), and that callback cost more than the parse itself.
        parser.set_element_class_lookup(
            lxml.etree.ElementDefaultClassLookup(
                element=HtmlElement,
                comment=lxml.html.HtmlComment,
                pi=lxml.html.HtmlProcessingInstruction,
                entity=lxml.html.HtmlEntity,
            )
        )
    return parser


def parse(html: str | bytes, url: str, *, locale: str | None = None) -> Page | None:
    """Parse a page; None when it is not HTML we can read at all."""
    source = _utf8_source(html)
    if b"\x00" in source:
        source = source.replace(b"\x00", b"")
    xml_decl = _XML_DECL.match(source)
    if xml_decl:
        source = source[xml_decl.end() :]
    if not source or source.isspace():
        return None
    try:
        doc = lxml.html.document_fromstring(source, parser=_utf8_parser())
    except (lxml.etree.ParserError, ValueError):
        return None
    indexed = tuple(doc.iter(*_INDEXED_TAGS))
    indexed_tags = tuple(el.tag for el in indexed)  # (each .tag builds a new str: ask once)
    by_tag: dict[str, list[HtmlElement]] = {}
    for el, tag in zip(indexed, indexed_tags, strict=True):
        by_tag.setdefault(tag, []).append(el)
    base = url
    base_el = next((b for b in by_tag.get("base", ()) if b.get("href")), None)
    if base_el is not None:
        base = urljoin(url, base_el.get("href", ""))
    page = Page(
        doc=doc,
        url=url,
        base_url=base,
        locale=locale or page_locale(doc, url, by_tag.get("meta", [])),
        indexed=indexed,
        indexed_tags=indexed_tags,
        by_tag=by_tag,
        lower_source=source.lower(),
    )
    # Whether any custom element is named for a price (<sale-price>): a regex over the source
    # is ten times cheaper than looking for them in the tree.
    page.memo["custom_price_tags"] = bool(_CUSTOM_PRICE_TAG.search(source))
    return page


def page_locale(doc: HtmlElement, url: str, metas: list[HtmlElement]) -> str | None:
    """The page's locale: `<html lang>` or og:locale, with the region taken from the domain.

    A bare "es" on a .mx shop is es_MX (dot decimals), on a .cl shop es_CL (comma decimals).
    A country domain also beats the page's own region: themes ship "en-US" everywhere, but a
    .ca shop charges CAD.
    """
    lang = doc.get("lang") or doc.get("xml:lang")
    if not lang:
        for meta in metas:
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
