"""Validate anomalies: claim, commit, ask (rules, the LLM, a re-fetch), then record.

No transaction stays open while a model or a shop is being asked: claims are committed
first ('validating' + claimed_at), and a claim whose validator died is released by
`release_stale` on the next run, so every anomaly is validated once and only once recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from pricehawk.db import transaction
from pricehawk.settings import Settings
from pricehawk.validation import refetch, rules
from pricehawk.validation.llm import LLMValidator
from pricehawk.validation.models import AnomalyRecord, Verdict
from pricehawk.validation.queries import (
    cached_llm_verdict,
    claim_new,
    record_verdict,
    release_stale,
    store_llm_verdict,
)

log = logging.getLogger(__name__)

# NOTIFY channel announcing confirmed glitches (payload: the glitch id).
GLITCH_CHANNEL = "pricehawk_glitches"
# a claim older than this is a crashed validation (a model call times out well before)
STALE_CLAIM_S = 300.0
MAX_ATTEMPTS = 5


def combine(rule: Verdict, llm: Verdict | None) -> Verdict:
    """The decision: the model's answer when it gave a valid one, else the rules'."""
    if llm is None:
        return rule
    return llm


def _llm_verdict(pool: Any, validator: LLMValidator, anomaly: AnomalyRecord) -> Verdict | None:
    with transaction(pool) as conn:
        cached = cached_llm_verdict(conn, anomaly.id, validator.model)
    if cached is not None:
        return cached
    answer = validator.judge(anomaly)
    if answer is None:
        return None
    with transaction(pool) as conn:
        store_llm_verdict(conn, anomaly.id, validator.model, answer)
    return answer.verdict


def validate_pending(
    pool: Any,
    settings: Settings,
    *,
    limit: int = 100,
    anomaly_ids: list[int] | None = None,
    llm: LLMValidator | None = None,
) -> list[int]:
    """Validate unvalidated anomalies; return the new glitch ids.

    Safe to run from any number of workers and DAG runs at once: rows are claimed with
    SKIP LOCKED and glitches are unique per anomaly.
    """
    with transaction(pool) as conn:
        release_stale(conn, STALE_CLAIM_S, MAX_ATTEMPTS)
        claimed = claim_new(conn, limit, anomaly_ids)
    if not claimed:
        return []
    if llm is None and settings.llm_base_url:
        llm = LLMValidator(settings)
    glitch_ids: list[int] = []
    for anomaly in claimed:
        verdict = rules.judge(anomaly)
        if llm is not None:
            verdict = combine(verdict, _llm_verdict(pool, llm, anomaly))
        if verdict.is_glitch and refetch.wanted(settings, anomaly.retailer):
            now = refetch.refetch_price(settings, anomaly.url)
            verdict = refetch.after_refetch(verdict, anomaly, now)
        with transaction(pool) as conn:
            glitch_id = record_verdict(conn, anomaly, verdict)
            if glitch_id is not None:
                conn.execute("SELECT pg_notify(%s, %s)", (GLITCH_CHANNEL, str(glitch_id)))
                glitch_ids.append(glitch_id)
    return glitch_ids
