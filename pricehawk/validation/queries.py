"""SQL for validation: claim new anomalies, record verdicts and glitches."""

from __future__ import annotations

from typing import Any

from pricehawk.validation.models import AnomalyRecord, Verdict

_SELECT = """
SELECT a.id, a.product_id, a.observed_at, a.price, a.baseline, a.list_price, a.currency,
       a.discount, a.confidence, a.glitch_type, a.reasons, r.slug AS retailer, p.title, p.url
FROM anomalies a JOIN products p ON p.id = a.product_id JOIN retailers r ON r.id = p.retailer_id
"""


def _record(row: dict[str, Any]) -> AnomalyRecord:
    return AnomalyRecord(**{**row, "reasons": tuple(row["reasons"] or ())})


def claim_new(conn: Any, limit: int, anomaly_ids: list[int] | None = None) -> list[AnomalyRecord]:
    """Lock up to `limit` unvalidated anomalies (SKIP LOCKED: others take the rest)."""
    where = "a.status = 'new'" + (" AND a.id = ANY(%(ids)s)" if anomaly_ids is not None else "")
    rows = conn.execute(
        f"{_SELECT} WHERE {where} ORDER BY a.id LIMIT %(limit)s FOR UPDATE OF a SKIP LOCKED",
        {"ids": anomaly_ids, "limit": limit},
    ).fetchall()
    return [_record(r) for r in rows]


def record_verdict(conn: Any, anomaly: AnomalyRecord, verdict: Verdict) -> int | None:
    """Mark the anomaly validated; on a glitch insert it once. Returns the glitch id."""
    conn.execute(
        "UPDATE anomalies SET status = %s, validated_at = now() WHERE id = %s",
        ("confirmed" if verdict.is_glitch else "rejected", anomaly.id),
    )
    if not verdict.is_glitch:
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
