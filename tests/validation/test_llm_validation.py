"""Validation end to end: real Postgres, the LLM stand-in in sandbox/, the rules as fallback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from pricehawk import db
from pricehawk.settings import Settings
from pricehawk.validation.service import validate_pending
from sandbox.llm import LLMServer, LLMStandIn


@pytest.fixture()
def llm() -> Iterator[LLMServer]:
    server = LLMServer(LLMStandIn(api_key="sk-test-key")).start()
    yield server
    server.stop()


def _llm_settings(settings: Settings, server: LLMServer) -> Settings:
    return dataclasses.replace(
        settings, llm_base_url=server.url, llm_api_key="sk-test-key", llm_model="test/model",
        llm_timeout_s=1.0, llm_max_retries=0,
    )  # fmt: skip


def _anomaly(pool: Any, discount: float, confidence: float, kind: str) -> int:
    with db.transaction(pool) as conn:
        rid = conn.execute(
            """INSERT INTO retailers (slug, name) VALUES ('shop', 'Shop')
               ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id"""
        ).fetchone()["id"]
        pid = conn.execute(
            """INSERT INTO products (retailer_id, url, title, currency)
               VALUES (%s, 'https://shop.example/p/' || gen_random_uuid(), 'Laptop', 'USD')
               RETURNING id""",
            (rid,),
        ).fetchone()["id"]
        return int(
            conn.execute(
                """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency,
                                          discount, confidence, glitch_type, reasons)
                   VALUES (%s, now(), 129.99, 1299.99, 'USD', %s, %s, %s, '{"test"}')
                   RETURNING id""",
                (pid, discount, confidence, kind),
            ).fetchone()["id"]
        )


def _glitches(pool: Any) -> list[dict[str, Any]]:
    with db.transaction(pool) as conn:
        return list(conn.execute("SELECT * FROM glitches ORDER BY anomaly_id").fetchall())


def test_llm_decides_and_caches(pool: Any, settings: Settings, llm: LLMServer) -> None:
    s = _llm_settings(settings, llm)
    glitch = _anomaly(pool, 0.9, 0.95, "decimal_slip_10")
    # the rules would confirm this one (confidence 0.75); the model says it is a sale
    sale = _anomaly(pool, 0.5, 0.75, "extreme_discount")
    ids = validate_pending(pool, s)
    assert len(ids) == 1
    (row,) = _glitches(pool)
    assert row["anomaly_id"] == glitch and row["validator"] == "llm:test/model"
    assert row["glitch_type"] == "decimal_slip_10" and "stand-in" in row["reasoning"]
    assert llm.state.problems == []
    sent = llm.state.requests[0]
    assert sent["headers"]["authorization"] == "Bearer sk-test-key"
    assert sent["body"]["model"] == "test/model"
    assert sent["body"]["response_format"] == {"type": "json_object"}
    with db.transaction(pool) as conn:
        status = conn.execute("SELECT status FROM anomalies WHERE id = %s", (sale,)).fetchone()
        cached = conn.execute("SELECT count(*) AS n, min(prompt_tokens) AS t FROM llm_verdicts")
        n = cached.fetchone()
        # a crashed run re-claims: the cached answer is reused, the model is not asked again
        conn.execute("UPDATE anomalies SET status = 'new' WHERE id = %s", (glitch,))
    assert status["status"] == "rejected" and n["n"] == 2 and n["t"] == 120
    calls = len(llm.state.requests)
    assert validate_pending(pool, s) == []  # the glitch row is unique per anomaly
    assert len(llm.state.requests) == calls


@pytest.mark.parametrize("mode", ["nonsense", "error", "hang"])
def test_rules_decide_when_the_model_fails(
    pool: Any, settings: Settings, llm: LLMServer, mode: str
) -> None:
    llm.state.mode = mode
    llm.state.hang_s = 3.0
    _anomaly(pool, 0.9, 0.95, "decimal_slip_10")
    _anomaly(pool, 0.5, 0.5, "deep_discount")
    assert len(validate_pending(pool, _llm_settings(settings, llm))) == 1
    (row,) = _glitches(pool)
    assert row["validator"] == "rules"
    with db.transaction(pool) as conn:
        assert conn.execute("SELECT count(*) AS n FROM llm_verdicts").fetchone()["n"] == 0
        left = conn.execute("SELECT count(*) AS n FROM anomalies WHERE status <> 'confirmed'"
                            " AND status <> 'rejected'").fetchone()  # fmt: skip
    assert left["n"] == 0


def test_stale_claim_is_released_and_validated(pool: Any, settings: Settings) -> None:
    aid = _anomaly(pool, 0.9, 0.95, "decimal_slip_10")
    with db.transaction(pool) as conn:
        conn.execute(
            """UPDATE anomalies SET status = 'validating', attempts = 1,
                      claimed_at = now() - interval '1 hour' WHERE id = %s""",
            (aid,),
        )
    assert len(validate_pending(pool, settings)) == 1
    assert _glitches(pool)[0]["validator"] == "rules"
