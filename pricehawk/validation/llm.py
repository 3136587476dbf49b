"""The LLM validator: any OpenAI-compatible chat-completions endpoint (OpenRouter, a local server).

The model gets the anomaly's facts as JSON and must answer one JSON object
{"is_glitch": bool, "confidence": 0..1, "glitch_type": str, "reasoning": str}. Anything else —
a timeout after the client's retries, an HTTP error, prose, a missing or mistyped field — is
`None`, and the caller falls back to the rule verdict. Token counts and latency are returned
for the cache row and exported as Prometheus metrics.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram

from pricehawk.detection.score import GLITCH_TYPES, NON_GLITCH_TYPES
from pricehawk.settings import Settings
from pricehawk.validation.models import AnomalyRecord, LLMAnswer, Verdict

log = logging.getLogger(__name__)

LLM_CALLS = Counter(
    "pricehawk_llm_calls_total", "LLM validator calls by outcome", ["outcome"]
)  # ok | error | nonsense
LLM_TOKENS = Counter("pricehawk_llm_tokens_total", "LLM tokens used", ["kind"])
LLM_LATENCY = Histogram(
    "pricehawk_llm_latency_seconds", "LLM validator answer latency", buckets=(0.5, 1, 2, 5, 10, 30)
)

SYSTEM_PROMPT = (
    "You check suspected retail pricing errors for a deal-alert service. Subscribers pay to "
    "hear about real mistakes (a $1,299 laptop listed at $129.99, a pack's unit price shown "
    "as the pack price, another currency's number) and lose trust on every false alarm "
    "(ordinary sales, lightning deals of 40-65% off, clearance, a variant's price, a scrape "
    "error such as a monthly installment read as the price). Answer with one JSON object "
    'only: {"is_glitch": true|false, "confidence": 0..1, "glitch_type": one of '
    f"{sorted(GLITCH_TYPES | NON_GLITCH_TYPES | {'not_a_glitch'})}, "
    '"reasoning": one or two sentences}.'
)


def facts(anomaly: AnomalyRecord) -> dict[str, Any]:
    """What the model is told about one anomaly (no secrets, no subscriber data)."""
    return {
        "retailer": anomaly.retailer,
        "title": anomaly.title,
        "url": anomaly.url,
        "currency": anomaly.currency,
        "price": str(anomaly.price),
        "usual_price": str(anomaly.baseline) if anomaly.baseline is not None else None,
        "list_price": str(anomaly.list_price) if anomaly.list_price is not None else None,
        "discount": anomaly.discount,
        "detector_type": anomaly.glitch_type,
        "detector_confidence": anomaly.confidence,
        "detector_reasons": list(anomaly.reasons),
        "observed_at": anomaly.observed_at.isoformat(),
    }


def parse_answer(text: str, anomaly: AnomalyRecord, model: str) -> Verdict | None:
    """A Verdict from the model's text, or None when it is not the JSON we asked for."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    is_glitch = data.get("is_glitch")
    confidence = data.get("confidence")
    reasoning = data.get("reasoning")
    if not isinstance(is_glitch, bool) or isinstance(confidence, bool):
        return None
    if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        return None
    if not isinstance(reasoning, str) or not reasoning.strip():
        return None
    kind = data.get("glitch_type")
    if is_glitch:
        # the stored type must stay in our vocabulary: an unknown one keeps the detector's
        kind = kind if kind in GLITCH_TYPES else anomaly.glitch_type
        if kind not in GLITCH_TYPES:
            kind = "extreme_discount"
    else:
        kind = kind if isinstance(kind, str) and kind else "not_a_glitch"
    return Verdict(is_glitch, float(confidence), kind, reasoning.strip()[:1000], f"llm:{model}")


class LLMValidator:
    """Asks the configured model; `judge` returns None when the rules must decide instead."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.model = settings.llm_model
        if client is None:
            from openai import OpenAI

            client = OpenAI(
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key or "unset",
                timeout=settings.llm_timeout_s,
                max_retries=settings.llm_max_retries,
            )
        self.client = client

    def judge(self, anomaly: AnomalyRecord) -> LLMAnswer | None:
        """The model's verdict on one anomaly, or None (error, timeout, nonsense)."""
        import openai

        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                temperature=0,
                response_format={"type": "json_object"},
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": json.dumps(facts(anomaly))},
                ],
            )
        except openai.OpenAIError as exc:
            LLM_CALLS.labels("error").inc()
            log.warning("LLM validator failed for anomaly %s: %s", anomaly.id, type(exc).__name__)
            return None
        latency = time.perf_counter() - started
        LLM_LATENCY.observe(latency)
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        if prompt:
            LLM_TOKENS.labels("prompt").inc(prompt)
        if completion:
            LLM_TOKENS.labels("completion").inc(completion)
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError):
            text = ""
        verdict = parse_answer(text, anomaly, self.model)
        if verdict is None:
            LLM_CALLS.labels("nonsense").inc()
            log.warning("LLM validator answered nonsense for anomaly %s", anomaly.id)
            return None
        LLM_CALLS.labels("ok").inc()
        return LLMAnswer(verdict, prompt, completion, round(latency * 1000))
