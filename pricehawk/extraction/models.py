"""Plain value types returned by the extractor."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# The availability vocabulary every consumer (crawler, portal, validator) codes against.
AVAILABILITY_VALUES = ("in_stock", "out_of_stock", "preorder", "limited")

# Where a price came from; the CLI prints it as `method`.
METHODS = ("json-ld", "microdata", "rdfa", "opengraph", "selectors", "visible", "script")

# Reasons a page yields no price; "ok" means the page looked like a normal product page.
HEALTH_VALUES = (
    "ok",
    "blocked",
    "captcha",
    "login_wall",
    "consent",
    "error_page",
    "empty_shell",
    "no_price",
    "ambiguous",
    "not_html",
)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass(frozen=True)
class Candidate:
    """One price the extractor saw but could not rank above the others."""

    price: Decimal
    currency: str | None
    method: str
    context: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready form (decimal as string)."""
        return {
            "price": _dec(self.price),
            "currency": self.currency,
            "method": self.method,
            "context": self.context,
        }


@dataclass(frozen=True)
class Offer:
    """One purchasable variant (an Offer in schema.org terms)."""

    price: Decimal | None
    currency: str | None = None
    list_price: Decimal | None = None
    availability: str | None = None
    sku: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    name: str | None = None
    url: str | None = None
    selected: bool = False

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready form (decimals as strings)."""
        return {
            "price": _dec(self.price),
            "list_price": _dec(self.list_price),
            "currency": self.currency,
            "availability": self.availability,
            "sku": self.sku,
            "gtin": self.gtin,
            "mpn": self.mpn,
            "name": self.name,
            "url": self.url,
            "selected": self.selected,
        }


@dataclass(frozen=True)
class ExtractionResult:
    """Everything the extractor decided about one page."""

    url: str
    title: str | None = None
    price: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None
    availability: str | None = None
    sku: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    brand: str | None = None
    image: str | None = None
    method: str | None = None
    ambiguous: bool = False
    candidates: tuple[Candidate, ...] = ()
    offers: tuple[Offer, ...] = ()
    health: str = "ok"
    disagreements: tuple[str, ...] = field(default=())

    @property
    def has_price(self) -> bool:
        """True when a price was read (and not left undecided)."""
        return self.price is not None

    def to_json_dict(self, *, details: bool = False) -> dict[str, Any]:
        """The CLI's JSON object; `details` adds candidates, offers and disagreements."""
        out: dict[str, Any] = {
            "title": self.title,
            "price": _dec(self.price),
            "list_price": _dec(self.list_price),
            "currency": self.currency,
            "availability": self.availability,
            "sku": self.sku,
            "gtin": self.gtin,
            "mpn": self.mpn,
            "brand": self.brand,
            "image": self.image,
            "url": self.url,
            "method": self.method,
            "ambiguous": self.ambiguous,
            "health": self.health,
        }
        if details:
            out["candidates"] = [c.to_json_dict() for c in self.candidates]
            out["offers"] = [o.to_json_dict() for o in self.offers]
            out["disagreements"] = list(self.disagreements)
        return out
