"""The rule validator: always on, and the fallback when an LLM fails or talks nonsense."""

from __future__ import annotations

from pricehawk.detection.config import DetectorConfig
from pricehawk.detection.score import GLITCH_TYPES
from pricehawk.validation.models import AnomalyRecord, Verdict

DEFAULT = DetectorConfig()
MIN_CONFIDENCE = DEFAULT.confirm_confidence


def decide(glitch_type: str, confidence: float, config: DetectorConfig = DEFAULT) -> bool:
    """A glitch when the type is an error's (not a sale's) and the detector is confident."""
    return glitch_type in GLITCH_TYPES and confidence >= config.confirm_confidence


def judge(anomaly: AnomalyRecord, config: DetectorConfig = DEFAULT) -> Verdict:
    """Confirm anomalies of a glitch type the detector is confident about; reject the rest."""
    is_glitch = decide(anomaly.glitch_type, anomaly.confidence, config)
    why = "; ".join(anomaly.reasons) or anomaly.glitch_type
    if anomaly.glitch_type not in GLITCH_TYPES:
        verdict = f"{anomaly.glitch_type} looks like a sale, not an error"
    else:
        op = ">=" if is_glitch else "<"
        verdict = f"detector confidence {anomaly.confidence:.2f} {op} {config.confirm_confidence}"
    reasoning = f"{anomaly.glitch_type}: {why} ({verdict})"
    return Verdict(is_glitch, anomaly.confidence, anomaly.glitch_type, reasoning, "rules")
