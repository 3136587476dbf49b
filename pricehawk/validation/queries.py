"""SQL for validation: claim anomalies, cache LLM answers, record verdicts and glitches."""

from __future__ import annotations

from typing import Any

from pricehawk.validation.models import AnomalyRecord, LLMAnswer, Verdict

_COLUMNS = """a.id, a.product_id, a.observed_at, a.price, a.baseline, a.list_price, a.currency,
       a.discount, a.confidence, a.glitch_type, a.reasons, r.slug AS retailer, p.title, p.url"""


def _record(row: dict[str, Any]) -> AnomalyRecord:
    return AnomalyRecord(**{**row, "reasons": tuple(row["reasons"] or ())})


def release_stale(conn: Any, older_than_s: float, max_attempts: int) -> int:
    """Claims older than this belonged to a validator that died: back to 'new' (or 'error')."""
    cur = conn.execute(
        """
        UPDATE anomalies SET status = CASE WHEN attempts >= %s THEN 'error' ELSE 'new' END,
                             claimed_at = NULL
        WHERE status = 'validating' AND claimed_at < now() - make_interval(secs => %s)
        """,
        (max_attempts, older_than_s),
    )
    return int(cur.rowcount or 0)


def claim_new(conn: Any, limit: int, anomaly_ids: list[int] | None = None) -> list[AnomalyRecord]:
    """Mark up to `limit` new anomalies 'validating' (SKIP LOCKED: others take the rest)."""
    where = "status = 'new'" + (" AND id = ANY(%(ids)s)" if anomaly_ids is not None else "")
    rows = conn.execute(
        f"""
        WITH claimed AS (
            UPDATE anomalies SET status = 'validating', claimed_at = now(),
                                 attempts = attempts + 1
            WHERE id IN (SELECT id FROM anomalies WHERE {where}
                         ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
            RETURNING *)
        SELECT {_COLUMNS} FROM claimed a JOIN products p ON p.id = a.product_id
        JOIN retailers r ON r.id = p.retailer_id ORDER BY a.id
        """,
        {"ids": anomaly_ids, "limit": limit},
    ).fetchall()
    return [_record(r) for r in rows]


def cached_llm_verdict(conn: Any, anomaly_id: int, model: str) -> Verdict | None:
    """The model's earlier answer for this anomaly, if it gave one."""
    row = conn.execute(
        """SELECT is_glitch, confidence, glitch_type, reasoning FROM llm_verdicts
           WHERE anomaly_id = %s AND model = %s""",
        (anomaly_id, model),
    ).fetchone()
    if row is None:
        return None
    return Verdict(
        row["is_glitch"], row["confidence"], row["glitch_type"], row["reasoning"], f"llm:{model}"
    )


def store_llm_verdict(conn: Any, anomaly_id: int, model: str, answer: LLMAnswer) -> None:
    """Cache a model answer (the first one wins)."""
    v = answer.verdict
    conn.execute(
        """
        INSERT INTO llm_verdicts (anomaly_id, model, is_glitch, confidence, glitch_type,
                                  reasoning, prompt_tokens, completion_tokens, latency_ms)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (anomaly_id) DO NOTHING
        """,
        (anomaly_id, model, v.is_glitch, v.confidence, v.glitch_type, v.reasoning,
         answer.prompt_tokens, answer.completion_tokens, answer.latency_ms),
    )  # fmt: skip


def record_verdict(conn: Any, anomaly: AnomalyRecord, verdict: Verdict) -> int | None:
    """Close our claim and, on a glitch, insert it once. Returns the new glitch id.

    Nothing happens when the claim is no longer ours (a sweep released it and another
    validator finished first): the unique anomaly_id keeps the glitch single anyway.
    """
    row = conn.execute(
        """UPDATE anomalies SET status = %s, validated_at = now(), claimed_at = NULL
           WHERE id = %s AND status IN ('validating', 'new') RETURNING id""",
        ("confirmed" if verdict.is_glitch else "rejected", anomaly.id),
    ).fetchone()
    if row is None or not verdict.is_glitch:
        return None
    row = conn.execute(
        """
        INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency, observed_at,
                              confidence, glitch_type, reasoning, validator)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (anomaly_id) DO NOTHING RETURNING id
        """,
        (
            anomaly.id,
            anomaly.product_id,
            anomaly.price,
            anomaly.baseline,
            anomaly.currency,
            anomaly.observed_at,
            verdict.confidence,
            verdict.glitch_type,
            verdict.reasoning,
            verdict.validator,
        ),
    ).fetchone()
    return None if row is None else int(row["id"])
