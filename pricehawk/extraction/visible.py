"""Visible-page fallback: the price a shopper sees in the main buy box."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pricehawk.extraction.models import Candidate
from pricehawk.extraction.page import Page


@dataclass(frozen=True)
class VisibleReading:
    """What the visible page says (internal)."""

    price: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None
    confident: bool = False
    candidates: tuple[Candidate, ...] = ()
    availability: str | None = None
    title: str | None = None


def read_visible(page: Page, *, currency: str | None) -> VisibleReading:
    """Placeholder reading (no visible price)."""
    return VisibleReading()


def selected_option_tokens(page: Page) -> set[str]:
    """Placeholder."""
    return set()


def availability_from_text(text: str) -> str | None:
    """Placeholder."""
    return None
