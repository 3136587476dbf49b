"""The rule validator: always on, and the fallback when an LLM fails."""

from __future__ import annotations

from pricehawk.validation.models import AnomalyRecord, Verdict

MIN_CONFIDENCE = 0.7


def judge(anomaly: AnomalyRecord) -> Verdict:
    """Confirm anomalies the detector is confident about; reject the rest."""
    is_glitch = anomaly.confidence >= MIN_CONFIDENCE
    why = "; ".join(anomaly.reasons) or anomaly.glitch_type
    reasoning = (
        f"{anomaly.glitch_type}: {why} (detector confidence {anomaly.confidence:.2f}"
        f" {'>=' if is_glitch else '<'} {MIN_CONFIDENCE})"
    )
    return Verdict(is_glitch, anomaly.confidence, anomaly.glitch_type, reasoning, "rules")
