"""Faults: racing dispatchers, a dispatcher killed mid-send, a glitch confirmed twice, a
provider that never answers. Whatever happens, no provider receives two sends for one key."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricehawk import db
from pricehawk.db import transaction
from pricehawk.notifications.service import Dispatcher, dispatch_due, fan_out_pending
from pricehawk.settings import Settings
from pricehawk.validation.models import AnomalyRecord, Verdict
from pricehawk.validation.queries import record_verdict
from pricehawk.worker import run_once
from tests.notifications.conftest import Providers, make_glitch, make_product, make_user, outbox

ROOT = Path(__file__).resolve().parents[2]


def _assert_once_per_key(stand_in: Any) -> Counter[str]:
    """Each recipient (one outbox key each, here) was delivered at most once."""
    delivered = Counter(stand_in.recipient(r) for r in stand_in.deliveries())
    assert all(n == 1 for n in delivered.values()), delivered
    return delivered


def test_two_dispatchers_racing_send_each_row_once(
    db_url: str, provider_settings: Settings, providers: Providers
) -> None:
    pools = [db.make_pool(db_url, min_size=1, max_size=2) for _ in range(2)]
    try:
        with transaction(pools[0]) as conn:
            make_glitch(conn, make_product(conn))
            chats = [str(10_000 + i) for i in range(40)]
            for chat in chats:
                make_user(conn, "pro", {"telegram": chat})
        fan_out_pending(pools[0], provider_settings)
        start = threading.Barrier(2)
        results: list[dict[str, int]] = []

        def run(pool: Any) -> None:
            dispatcher = Dispatcher(provider_settings)
            start.wait()
            while counts := dispatcher.dispatch(pool, limit=3):
                results.append(counts)

        threads = [threading.Thread(target=run, args=(p,)) for p in pools]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        delivered = _assert_once_per_key(providers.telegram)
        assert set(delivered) == set(chats)
        with transaction(pools[0]) as conn:
            rows = outbox(conn)
        assert {r["status"] for r in rows} == {"sent"} and len(rows) == 40
        assert {r["attempts"] for r in rows} == {1}
        assert len({r["claimed_by"] for r in rows}) == 2  # both took part
    finally:
        for p in pools:
            p.close()


def test_dispatcher_killed_after_the_provider_call_never_resends(
    pool: Any, db_url: str, provider_settings: Settings, providers: Providers, tmp_path: Path
) -> None:
    """A real `pricehawk worker --once` process, SIGKILLed while the provider holds its send."""
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn))
        make_user(conn, "pro", {"telegram": "31337"})
    providers.telegram.script("hang")  # the provider got it; its answer never comes
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PRICEHAWK_HOME": str(tmp_path / "home"),
        "TELEGRAM_BOT_TOKEN": providers.telegram.token,
        "TELEGRAM_API_BASE": providers.telegram.url,
        "PRICEHAWK_SEND_TIMEOUT": "120",
        "PRICEHAWK_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pricehawk.cli.main", "worker", "--once"], env=env, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while not providers.telegram.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert providers.telegram.requests, "the worker never called the provider"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    providers.telegram.release_hung()
    with transaction(pool) as conn:
        [row] = outbox(conn)
    assert row["status"] == "sending"  # claimed, sent, never recorded
    # Any number of later passes: the stale sweep moves it to review and nothing resends it.
    with transaction(pool) as conn:
        conn.execute("UPDATE notification_outbox SET claimed_at = now() - interval '1 hour'")
    for _ in range(3):
        run_once(pool, provider_settings)
    with transaction(pool) as conn:
        [row] = outbox(conn)
    assert row["status"] == "review" and "outcome unknown" in row["last_error"]
    assert len(providers.telegram.requests) == 1
    _assert_once_per_key(providers.telegram)


def _anomaly(conn: Any, product: int, price: str) -> AnomalyRecord:
    row = conn.execute(
        """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency, confidence,
                                  glitch_type)
           VALUES (%s, clock_timestamp(), %s, 100, 'USD', 0.9, 'decimal_error')
           RETURNING id, observed_at""",
        (product, Decimal(price)),
    ).fetchone()
    return AnomalyRecord(
        row["id"], product, row["observed_at"], Decimal(price), Decimal(100), None, "USD",
        0.9, 0.9, "decimal_error", (), "shop", "Gadget", "https://shop.test/p",
    )  # fmt: skip


def test_the_same_glitch_confirmed_twice_is_sent_once(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    verdict = Verdict(True, 0.9, "decimal_error", "price is a tenth of usual", "rules")
    with transaction(pool) as conn:
        product = make_product(conn, price=Decimal("10"))
        chats = [str(20_000 + i) for i in range(5)]
        for chat in chats:
            make_user(conn, "pro", {"telegram": chat})
        first = _anomaly(conn, product, "10")
        assert record_verdict(conn, first, verdict) is not None
        assert record_verdict(conn, first, verdict) is None  # the same anomaly confirmed again
    fan_out_pending(pool, provider_settings)
    dispatch_due(pool, provider_settings)
    with transaction(pool) as conn:
        # the next crawl sees the same glitch price: a second anomaly, a second glitch
        record_verdict(conn, _anomaly(conn, product, "10.05"), verdict)
    fan_out_pending(pool, provider_settings)
    dispatch_due(pool, provider_settings)
    assert set(_assert_once_per_key(providers.telegram)) == set(chats)
    with transaction(pool) as conn:
        assert conn.execute("SELECT count(*) AS n FROM glitches").fetchone()["n"] == 2
        assert len(outbox(conn)) == 5


def test_a_provider_timing_out_is_never_sent_twice(
    pool: Any, provider_settings: Settings, providers: Providers
) -> None:
    settings = dataclasses.replace(provider_settings, send_timeout_s=0.3)
    with transaction(pool) as conn:
        make_glitch(conn, make_product(conn))
        for i in range(4):
            make_user(conn, "pro", {"email": f"buyer{i}@x.test"})
    fan_out_pending(pool, settings)
    providers.sendgrid.script("hang", "500", "drop")
    first = dispatch_due(pool, settings)
    assert first == {"review": 2, "pending": 1, "sent": 1}
    providers.sendgrid.release_hung()
    for _ in range(3):
        with transaction(pool) as conn:
            conn.execute("UPDATE notification_outbox SET next_attempt_at = now()")
        dispatch_due(pool, settings)
    delivered = _assert_once_per_key(providers.sendgrid)
    assert len(delivered) == 3  # the hung one, and two accepted; the dropped one is in review
    with transaction(pool) as conn:
        statuses = Counter(r["status"] for r in outbox(conn))
    assert statuses == {"review": 2, "sent": 2}
