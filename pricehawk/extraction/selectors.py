"""Per-retailer selectors, from the `extraction:` mapping of a retailer's YAML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement
from parsel import Selector

# Fields a retailer YAML may give a selector for.
SELECTOR_FIELDS = (
    "price",
    "list_price",
    "currency_text",
    "title",
    "availability",
    "sku",
    "gtin",
    "mpn",
    "brand",
    "image",
)


class SelectorConfigError(ValueError):
    """A retailer's `extraction:` mapping cannot be used; the message names the field."""


@dataclass(frozen=True)
class FieldSelector:
    """One selector: `css:...` or `xpath:...` (a bare string is CSS)."""

    kind: str
    query: str

    @classmethod
    def parse(cls, spec: str, *, field_name: str) -> FieldSelector:
        """Parse "css:.price::text" / "xpath://span[@id='p']/text()" / ".price"."""
        spec = spec.strip()
        if not spec:
            raise SelectorConfigError(f"extraction.{field_name}: empty selector")
        kind, sep, rest = spec.partition(":")
        if sep and kind.lower() in ("css", "xpath"):
            kind, query = kind.lower(), rest.strip()
        else:
            kind, query = "css", spec
        sel = FieldSelector(kind, query)
        try:
            sel.select(Selector(text="<html></html>"))
        except Exception as exc:  # parsel raises several types for bad queries
            raise SelectorConfigError(
                f"extraction.{field_name}: invalid {kind} {query!r}: {exc}"
            ) from exc
        return sel

    def select(self, sel: Selector) -> list[str]:
        """All matching strings (text nodes or attributes), stripped, empties dropped."""
        found = sel.css(self.query) if self.kind == "css" else sel.xpath(self.query)
        out: list[str] = []
        for item in found:
            root = item.root
            if isinstance(root, str):
                text = root
            elif isinstance(root, HtmlElement):
                text = root.text_content()
            else:
                text = str(item.get())
            text = " ".join(text.split())
            if text:
                out.append(text)
        return out


@dataclass(frozen=True)
class SelectorConfig:
    """Per-retailer selectors plus the retailer's locale and currency."""

    fields: Mapping[str, tuple[FieldSelector, ...]] = field(default_factory=dict)
    locale: str | None = None
    currency: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SelectorConfig:
        """Build from a retailer YAML's `extraction:` mapping; a list gives fallbacks in order."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise SelectorConfigError("extraction: expected a mapping")
        fields: dict[str, tuple[FieldSelector, ...]] = {}
        for name, spec in data.items():
            if name in ("locale", "currency"):
                continue
            if name not in SELECTOR_FIELDS:
                known = ", ".join(SELECTOR_FIELDS)
                raise SelectorConfigError(f"extraction.{name}: unknown field (expected: {known})")
            specs = spec if isinstance(spec, list) else [spec]
            if not all(isinstance(s, str) for s in specs):
                raise SelectorConfigError(f"extraction.{name}: expected a string or a list")
            fields[name] = tuple(FieldSelector.parse(s, field_name=name) for s in specs)
        locale = data.get("locale")
        currency = data.get("currency")
        if locale is not None and not isinstance(locale, str):
            raise SelectorConfigError("extraction.locale: expected a string like es_CL")
        if currency is not None and (
            not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha()
        ):
            raise SelectorConfigError("extraction.currency: expected an ISO 4217 code like CLP")
        return cls(fields=fields, locale=locale, currency=currency.upper() if currency else None)

    def values(self, name: str, sel: Selector) -> list[str]:
        """Strings for one field: the first selector in the list that matches anything."""
        for fs in self.fields.get(name, ()):
            got = fs.select(sel)
            if got:
                return got
        return []
