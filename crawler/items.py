"""The crawler's item: pricehawk's ScrapedProduct (a dataclass Scrapy accepts as an item)."""

from pricehawk.prices.models import ScrapedProduct

__all__ = ["ScrapedProduct"]
