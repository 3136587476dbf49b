"""Anomaly detection: pure scoring of a new price against a product's history."""

from pricehawk.detection.models import Anomaly, MarketContext, PricePoint, ProductInfo
from pricehawk.detection.score import score

__all__ = ["Anomaly", "MarketContext", "PricePoint", "ProductInfo", "score"]
