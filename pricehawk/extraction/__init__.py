"""HTML -> product fields: structured data, per-retailer selectors, then the visible buy box.

Framework-free on purpose: the crawler, the portal's on-demand tracking and the validator's
re-fetch all call `extract()`.
"""

from pricehawk.extraction.core import extract
from pricehawk.extraction.models import Candidate, ExtractionResult, Offer
from pricehawk.extraction.selectors import SelectorConfig, SelectorConfigError

__all__ = [
    "Candidate",
    "ExtractionResult",
    "Offer",
    "SelectorConfig",
    "SelectorConfigError",
    "extract",
]
