"""Validate anomalies: rules (and, when configured, an LLM), then record glitches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pricehawk.db import transaction
from pricehawk.settings import Settings
from pricehawk.validation import rules
from pricehawk.validation.models import AnomalyRecord, Verdict
from pricehawk.validation.queries import claim_new, record_verdict

# NOTIFY channel announcing confirmed glitches (payload: the glitch id).
GLITCH_CHANNEL = "pricehawk_glitches"


def choose_validator(settings: Settings) -> Callable[[AnomalyRecord], Verdict]:
    """The validator for these settings (rules only, for now)."""
    return rules.judge


def validate_pending(
    pool: Any, settings: Settings, *, limit: int = 100, anomaly_ids: list[int] | None = None
) -> list[int]:
    """Validate unvalidated anomalies in one transaction; return new glitch ids.

    Safe to run from any number of workers and DAG runs at once: rows are claimed with
    SKIP LOCKED and glitches are unique per anomaly.
    """
    judge = choose_validator(settings)
    glitch_ids: list[int] = []
    with transaction(pool) as conn:
        for anomaly in claim_new(conn, limit, anomaly_ids):
            glitch_id = record_verdict(conn, anomaly, judge(anomaly))
            if glitch_id is not None:
                conn.execute("SELECT pg_notify(%s, %s)", (GLITCH_CHANNEL, str(glitch_id)))
                glitch_ids.append(glitch_id)
    return glitch_ids
