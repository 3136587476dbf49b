"""Plain values for products and observations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation: prices must not import extraction at run time
    from pricehawk.extraction.models import ExtractionResult


@dataclass(frozen=True)
class ScrapedProduct:
    """What one fetch of a product page produced: a price, or a reason there is none."""

    retailer: str
    url: str
    observed_at: datetime
    health: str = "ok"  # "ok" or why no price was read (blocked, captcha, no_price, ...)
    price: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None
    availability: str | None = None
    title: str | None = None
    sku: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    brand: str | None = None
    category: str | None = None
    image: str | None = None
    method: str | None = None
    crawl_run_id: int | None = None

    @classmethod
    def from_extraction(
        cls,
        result: ExtractionResult,
        *,
        retailer: str,
        url: str,
        observed_at: datetime,
        **extra: Any,
    ) -> ScrapedProduct:
        """The item for one extracted page; a page that is not "ok" never carries a price."""
        ok = result.health == "ok"
        return cls(
            retailer=retailer,
            url=url,
            observed_at=observed_at,
            health=result.health,
            price=result.price if ok else None,
            list_price=result.list_price if ok else None,
            currency=result.currency,
            availability=result.availability,
            title=result.title,
            sku=result.sku,
            gtin=result.gtin,
            mpn=result.mpn,
            brand=result.brand,
            image=result.image,
            method=result.method,
            **extra,
        )

    @property
    def has_price(self) -> bool:
        return self.health == "ok" and self.price is not None and self.currency is not None


@dataclass(frozen=True)
class StoredObservation:
    """An observation that was new to the database (so the detector should look at it)."""

    product_id: int
    observed_at: datetime
    price: Decimal
    list_price: Decimal | None
    currency: str
    availability: str | None
