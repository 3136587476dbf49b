"""Each DAG runs once with dag.test() against the real PostgreSQL and Redis; its effect is
asserted, and a second run changes nothing."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from pricehawk import db
from pricehawk.ops import backup
from pricehawk.scheduling import crawl_queue_key
from pricehawk.settings import Settings
from tests.dags.conftest import failed_tasks, pricehawk_env, run_dag


def _setenv(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for k, v in pricehawk_env(settings).items():
        monkeypatch.setenv(k, v)


def _product(conn: Any, slug: str = "acme", url: str = "http://shop.test/p/1") -> int:
    conn.execute(
        "INSERT INTO retailers (slug, name) VALUES (%s, %s) ON CONFLICT (slug) DO NOTHING",
        (slug, slug.title()),
    )
    row = conn.execute(
        """INSERT INTO products (retailer_id, url, title, currency, last_price,
                                 last_observed_at)
           SELECT id, %s, 'Laptop', 'USD', 129.99, now() FROM retailers WHERE slug = %s
           RETURNING id""",
        (url, slug),
    ).fetchone()
    return int(row["id"])


def _anomaly(conn: Any, product_id: int, confidence: float = 0.95) -> int:
    row = conn.execute(
        """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency,
                                  discount, confidence, glitch_type, reasons)
           VALUES (%s, now(), 129.99, 1299.00, 'USD', 0.9, %s, 'decimal_shift',
                   ARRAY['price is a tenth of its usual'])
           RETURNING id""",
        (product_id, confidence),
    ).fetchone()
    return int(row["id"])


def _user(conn: Any, tier: str = "pro", email: str = "pro@example.test") -> int:
    row = conn.execute(
        "INSERT INTO users (email, tier) VALUES (%s, %s) RETURNING id", (email, tier)
    ).fetchone()
    conn.execute(
        """INSERT INTO notification_channels (user_id, kind, address, verified_at)
           VALUES (%s, 'file', %s, now())""",
        (row["id"], f"test-{tier}"),
    )
    return int(row["id"])


# --- crawl ---------------------------------------------------------------------------------


def test_crawl_queues_due_retailers_once_skipping_paused_and_open_breakers(
    dagbag: Any, task_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "retailers"
    folder.mkdir()
    for slug in ("acme", "globex", "initech"):
        (folder / f"{slug}.yaml").write_text(
            f"slug: {slug}\nname: {slug.title()}\ndomains: ['127.0.0.1:9/{slug}']\n"
            f"start_urls: ['http://127.0.0.1:9/{slug}/c/all']\n"
        )
    settings = dataclasses.replace(task_env, crawl_mode="distributed", retailers_dir=str(folder))
    _setenv(monkeypatch, settings)
    url = settings.database_url
    with db.connect(url) as conn:
        from pricehawk.retailers import registry, sync_retailers

        ids = sync_retailers(conn, registry(settings))
        conn.execute("UPDATE retailers SET paused = true WHERE slug = 'globex'")
        # initech has failed three runs in a row: its breaker must open.
        for _ in range(3):
            conn.execute(
                """INSERT INTO crawl_runs (retailer_id, spider, cycle_key, status)
                   VALUES (%s, 'catalog', 'old', 'failed')""",
                (ids["initech"],),
            )
        product_id = _product(conn, "acme", "http://127.0.0.1:9/acme/p/tracked-1")
        user_id = _user(conn)
        conn.execute(
            "INSERT INTO tracked_products (user_id, product_id) VALUES (%s, %s)",
            (user_id, product_id),
        )
        conn.commit()

    run = run_dag(dagbag, "crawl_retailers")
    assert run.state == "success", failed_tasks(run)

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    queued = [json.loads(x) for x in client.lrange(crawl_queue_key(settings), 0, -1)]
    retailers = {q["meta"]["retailer"] for q in queued}
    assert retailers == {"acme"}
    urls = {q["url"] for q in queued}
    assert "http://127.0.0.1:9/acme/p/tracked-1" in urls
    assert any(q["meta"]["kind"] == "listing" for q in queued)
    assert len({q["meta"]["cycle_key"] for q in queued}) == 1
    with db.connect(url) as conn:
        initech = conn.execute(
            "SELECT circuit_state, circuit_retry_at FROM retailers WHERE slug = 'initech'"
        ).fetchone()
    assert initech["circuit_state"] == "open" and initech["circuit_retry_at"] is not None

    # Re-running queues nothing twice: acme's cycle is claimed, the others are still skipped.
    again = run_dag(dagbag, "crawl_retailers")
    assert again.state == "success"
    assert client.llen(crawl_queue_key(settings)) == len(queued)
    client.close()


# --- validate ------------------------------------------------------------------------------


def test_validate_confirms_new_anomalies_once(dagbag: Any, task_env: Settings) -> None:
    with db.connect(task_env.database_url) as conn:
        product_id = _product(conn)
        confirmed = _anomaly(conn, product_id, 0.95)
        conn.execute("UPDATE anomalies SET observed_at = now() - interval '1 minute'")
        rejected = _anomaly(conn, product_id, 0.2)
        conn.commit()

    run = run_dag(dagbag, "validate_anomalies")
    assert run.state == "success", failed_tasks(run)
    with db.connect(task_env.database_url) as conn:
        status = {r["id"]: r["status"] for r in conn.execute("SELECT id, status FROM anomalies")}
        glitches = conn.execute("SELECT anomaly_id FROM glitches").fetchall()
    # Every anomaly got a verdict (which one is the validator's business, tested there), and
    # exactly the confirmed ones became glitches.
    assert set(status) == {confirmed, rejected}
    assert "new" not in status.values()
    assert {g["anomaly_id"] for g in glitches} == {a for a, s in status.items() if s == "confirmed"}

    assert run_dag(dagbag, "validate_anomalies").state == "success"
    with db.connect(task_env.database_url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM glitches").fetchone()["n"] == len(glitches)


# --- notify --------------------------------------------------------------------------------


def test_notify_fans_out_and_delivers_once(dagbag: Any, task_env: Settings) -> None:
    with db.connect(task_env.database_url) as conn:
        product_id = _product(conn)
        anomaly_id = _anomaly(conn, product_id)
        conn.execute("UPDATE anomalies SET status = 'confirmed' WHERE id = %s", (anomaly_id,))
        conn.execute(
            """INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency,
                                     observed_at, confidence, glitch_type, validator)
               SELECT id, product_id, price, baseline, currency, observed_at, confidence,
                      glitch_type, 'rules' FROM anomalies WHERE id = %s""",
            (anomaly_id,),
        )
        pro = _user(conn, "pro", "pro@example.test")
        free = _user(conn, "free", "free@example.test")
        conn.commit()

    run = run_dag(dagbag, "notify")
    assert run.state == "success", failed_tasks(run)
    with db.connect(task_env.database_url) as conn:
        rows = {
            r["user_id"]: r["status"]
            for r in conn.execute("SELECT user_id, status FROM notification_outbox")
        }
    # Pro is told at once; Free's row waits for its delay.
    assert rows[pro] == "sent"
    assert rows[free] == "pending"

    assert run_dag(dagbag, "notify").state == "success"
    with db.connect(task_env.database_url) as conn:
        n = conn.execute("SELECT count(*) AS n FROM notification_outbox").fetchone()["n"]
        sent = conn.execute(
            "SELECT count(*) AS n FROM notification_outbox WHERE status = 'sent'"
        ).fetchone()["n"]
    assert (n, sent) == (len(rows), 1)


# --- backup --------------------------------------------------------------------------------


def test_backup_dumps_verifies_and_restores_matching_counts(
    dagbag: Any, task_env: Settings, pg_server_url: str
) -> None:
    with db.connect(task_env.database_url) as conn:
        _product(conn)
        conn.commit()
    run = run_dag(dagbag, "backup_database")
    assert run.state == "success", failed_tasks(run)

    folder = backup.backup_dir(task_env)
    (result,) = backup.list_backups(folder)
    assert result.verified_at is not None and result.mismatches == {}
    assert result.table_counts["public.products"] == 1
    prom = (task_env.home / "metrics" / backup.METRICS_FILE).read_text()
    line = next(x for x in prom.splitlines() if x.startswith("pricehawk_backup_last_verified"))
    assert float(line.split()[1]) == pytest.approx(result.verified_at.timestamp())

    # By hand, as `pricehawk db restore FILE` does: into a new database, every count equal.
    name, mismatches = backup.restore_by_hand(task_env, result.path)
    try:
        assert mismatches == {}
        restored = backup.with_dbname(task_env.database_url, name)
        assert backup.table_counts(restored) == result.table_counts
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- maintenance ---------------------------------------------------------------------------


def _partitions(conn: Any) -> set[str]:
    return {
        r["relname"]
        for r in conn.execute(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'price_observations'::regclass"""
        )
    }


def test_maintenance_creates_partitions_prunes_and_purges(dagbag: Any, task_env: Settings) -> None:
    from pricehawk.ops.maintenance import add_months

    now = datetime.now(UTC)
    ahead = {f"price_observations_{add_months(now, i):%Y_%m}" for i in range(4)}
    with db.connect(task_env.database_url) as conn:
        product_id = _product(conn)
        conn.execute("SELECT ensure_observation_partition('2001-03-15'::timestamptz)")
        conn.execute(
            """INSERT INTO price_observations (product_id, observed_at, price, currency)
               VALUES (%s, '2001-03-15', 10, 'USD'), (%s, now(), 10, 'USD')""",
            (product_id, product_id),
        )
        user_id = _user(conn)
        conn.execute(
            """INSERT INTO channel_verifications (user_id, kind, address, code_hash, expires_at)
               VALUES (%s, 'sms', '+15550100', 'x', now() - interval '1 hour')""",
            (user_id,),
        )
        conn.commit()
        assert not ahead <= _partitions(conn)

    run = run_dag(dagbag, "maintenance")
    assert run.state == "success", failed_tasks(run)
    with db.connect(task_env.database_url) as conn:
        parts = _partitions(conn)
        assert ahead <= parts
        assert "price_observations_2001_03" not in parts
        assert conn.execute("SELECT count(*) AS n FROM price_observations").fetchone()["n"] == 1
        assert conn.execute("SELECT count(*) AS n FROM channel_verifications").fetchone()["n"] == 0

    assert run_dag(dagbag, "maintenance").state == "success"
    with db.connect(task_env.database_url) as conn:
        assert _partitions(conn) == parts


def test_weekly_maintenance_removes_long_deleted_accounts(dagbag: Any, task_env: Settings) -> None:
    with db.connect(task_env.database_url) as conn:
        gone = _user(conn, "pro", "gone@example.test")
        recent = _user(conn, "pro", "recent@example.test")
        kept = _user(conn, "pro", "kept@example.test")
        for user_id, days in ((gone, 60), (recent, 1)):
            conn.execute(
                "UPDATE users SET deleted_at = now() - make_interval(days => %s) WHERE id = %s",
                (days, user_id),
            )
        conn.commit()
    run = run_dag(dagbag, "maintenance_weekly")
    assert run.state == "success", failed_tasks(run)
    with db.connect(task_env.database_url) as conn:
        ids = {r["id"] for r in conn.execute("SELECT id FROM users")}
        channels = {r["user_id"] for r in conn.execute("SELECT user_id FROM notification_channels")}
    assert ids == {recent, kept}
    assert gone not in channels


# --- smoke ---------------------------------------------------------------------------------


def test_smoke_dag_fails_loudly_naming_the_broken_step(
    dagbag: Any, task_env: Settings, tmp_path: Path
) -> None:
    from pricehawk.ops.smoke import run_smoke

    # Nothing listens on this port: the very first step must fail, and say what it tried.
    url = "http://127.0.0.1:9"
    report = run_smoke(url, task_env)
    assert not report.ok
    assert report.failed is not None and report.failed.name == "health"
    assert "health" in report.summary() and "FAIL" in report.summary()

    run = run_dag(dagbag, "deploy_smoke_test", run_conf={"url": url})
    assert run.state == "failed"
    assert failed_tasks(run) == ["smoke"]
