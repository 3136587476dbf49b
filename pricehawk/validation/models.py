"""Plain values for validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class AnomalyRecord:
    """An anomaly as stored, with what a validator needs to know about its product."""

    id: int
    product_id: int
    observed_at: datetime
    price: Decimal
    baseline: Decimal | None
    list_price: Decimal | None
    currency: str
    discount: float | None
    confidence: float
    glitch_type: str
    reasons: tuple[str, ...]
    retailer: str
    title: str | None
    url: str


@dataclass(frozen=True)
class Verdict:
    is_glitch: bool
    confidence: float
    glitch_type: str
    reasoning: str
    validator: str  # "rules", "llm:<model>", "refetch", "operator:<name>"


@dataclass(frozen=True)
class LLMAnswer:
    """One parsed model answer, with what it cost."""

    verdict: Verdict
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
