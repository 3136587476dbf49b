"""Each DAG runs once with dag.test() against the real PostgreSQL and Redis; its effect is
asserted, and a second run changes nothing."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from pricehawk import db
from pricehawk.ops import backup
from pricehawk.settings import Settings
from tests.dags.conftest import ROOT, ServedPortal, failed_tasks, pricehawk_env, run_dag


def batch_outcome(settings: Settings, dag_id: str) -> dict[str, float]:
    """The pricehawk_batch_* samples a DAG's run callbacks left for the textfile collector."""
    from prometheus_client.parser import text_string_to_metric_families

    from pricehawk.metrics import batch_file

    text = batch_file(settings, dag_id).read_text()
    return {
        s.name.removeprefix("pricehawk_batch_"): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels == {"batch": dag_id}
    }


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


def _retailer_files(folder: Path, slugs: tuple[str, ...]) -> None:
    folder.mkdir()
    for slug in slugs:
        (folder / f"{slug}.yaml").write_text(
            f"slug: {slug}\nname: {slug.title()}\ndomains: ['127.0.0.1:9/{slug}']\n"
            f"start_urls: ['http://127.0.0.1:9/{slug}/c/all']\n"
        )


def test_crawl_queues_due_retailers_for_the_workers_and_feeds_the_breaker(
    dagbag: Any, task_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pricehawk.crawl import cycle_key_for
    from pricehawk.crawl.queue import decode_request, queue_key
    from pricehawk.retailers import registry, sync_retailers

    folder = tmp_path / "retailers"
    _retailer_files(folder, ("acme", "globex", "hooli", "initech", "umbrella"))
    settings = dataclasses.replace(task_env, crawl_mode="distributed", retailers_dir=str(folder))
    _setenv(monkeypatch, settings)
    url = settings.database_url
    now = datetime.now(UTC)
    with db.connect(url) as conn:
        ids = sync_retailers(conn, registry(settings))
        conn.execute("UPDATE retailers SET paused = true WHERE slug = 'globex'")
        # initech's circuit is open for another hour: skipped. umbrella's retry time has
        # passed: one trial cycle (half open).
        conn.execute(
            """UPDATE retailers SET circuit_state = 'open', failed_runs = 3,
                      circuit_retry_at = now() + (CASE slug WHEN 'initech' THEN 1 ELSE -1 END)
                                                 * interval '1 hour',
                      last_crawl_at = now() - interval '20 minutes'
                WHERE slug IN ('initech', 'umbrella')"""
        )
        # hooli's last cycle (queued 20 minutes ago) failed on every worker, its third
        # failure in a row: this run's judgement opens its circuit and queues nothing.
        last = now - timedelta(minutes=20)
        conn.execute(
            "UPDATE retailers SET failed_runs = 2, last_crawl_at = %s WHERE slug = 'hooli'",
            (last,),
        )
        conn.execute(
            """INSERT INTO crawl_runs (retailer_id, spider, cycle_key, worker, status,
                                       finished_at, failures)
               VALUES (%s, 'catalog', %s, 'w1', 'failed', now(), '{"connection": 3}')""",
            (ids["hooli"], cycle_key_for("hooli", last, 900)),
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

    # The requests sit in the queue `pricehawk crawl --distributed` pops, in its format.
    client = redis.Redis.from_url(settings.redis_url)
    queued = [decode_request(x) for x in client.lrange(queue_key(settings), 0, -1)]
    by_retailer: dict[str, dict[str, str]] = {}
    for q in queued:
        by_retailer.setdefault(q["meta"]["retailer"], {})[q["url"]] = q["callback"]
    assert by_retailer == {
        "acme": {
            "http://127.0.0.1:9/acme/c/all": "parse_listing",
            "http://127.0.0.1:9/acme/p/tracked-1": "parse_product",
        },
        "umbrella": {"http://127.0.0.1:9/umbrella/c/all": "parse_listing"},
    }
    cycles = {q["meta"]["retailer"]: q["meta"]["cycle"] for q in queued}
    assert cycles["acme"].startswith("acme-") and cycles["umbrella"].startswith("umbrella-")
    with db.connect(url) as conn:
        state = {
            r["slug"]: (r["circuit_state"], r["failed_runs"])
            for r in conn.execute("SELECT slug, circuit_state, failed_runs FROM retailers")
        }
    assert state["hooli"] == ("open", 3)
    assert state["umbrella"] == ("half_open", 3)
    assert state["initech"] == ("open", 3)
    assert state["acme"] == ("closed", 0)

    # Re-running queues nothing twice and judges hooli's cycle only once.
    again = run_dag(dagbag, "crawl_retailers")
    assert again.state == "success", failed_tasks(again)
    assert client.llen(queue_key(settings)) == len(queued)
    with db.connect(url) as conn:
        hooli = conn.execute(
            "SELECT circuit_state, failed_runs FROM retailers WHERE slug = 'hooli'"
        ).fetchone()
    assert (hooli["circuit_state"], hooli["failed_runs"]) == ("open", 3)
    client.close()


def test_crawl_without_workers_runs_the_cycle_in_a_subprocess_once(
    dagbag: Any, task_env: Settings, demo_shop: Any, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "retailers"
    folder.mkdir()
    (folder / "acme.yaml").write_text((ROOT / "crawler" / "retailers" / "acme.yaml").read_text())
    settings = dataclasses.replace(
        task_env, crawl_mode="in_process", retailers_dir=str(folder), demo_shop_url=demo_shop.url
    )
    _setenv(monkeypatch, settings)

    run = run_dag(dagbag, "crawl_retailers")
    assert run.state == "success", failed_tasks(run)
    with db.connect(settings.database_url) as conn:
        products = conn.execute("SELECT count(*) AS n FROM products").fetchone()["n"]
        runs = conn.execute("SELECT cycle_key, status, items FROM crawl_runs").fetchall()
        acme = conn.execute(
            "SELECT circuit_state, last_crawl_at, last_success_at FROM retailers"
        ).fetchone()
    assert products > 0
    assert {r["cycle_key"] for r in runs} == {runs[0]["cycle_key"]}
    assert runs[0]["cycle_key"].startswith("acme-") and sum(r["items"] for r in runs) > 0
    # `pricehawk crawl` fed the breaker: a good cycle keeps it closed.
    assert acme["circuit_state"] == "closed" and acme["last_success_at"] is not None

    # Re-running finds acme's cycle started: no second crawl.
    assert run_dag(dagbag, "crawl_retailers").state == "success"
    with db.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM crawl_runs").fetchone()["n"] == len(runs)


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
    # The run's outcome, for PriceHawkBatchJobFailing (the DAG's on_success_callback).
    outcome = batch_outcome(task_env, "maintenance")
    assert outcome["last_ok"] == 1
    assert outcome["last_run_timestamp_seconds"] == pytest.approx(run.end_date.timestamp())
    assert outcome["last_success_timestamp_seconds"] == outcome["last_run_timestamp_seconds"]
    assert outcome["last_duration_seconds"] == pytest.approx(
        (run.end_date - run.start_date).total_seconds()
    )
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


def _smoke_leftovers(url: str) -> dict[str, int]:
    with db.connect(url) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM users WHERE email LIKE 'smoke+%%') AS users,
                      (SELECT count(*) FROM retailers WHERE slug LIKE 'smoke-%%') AS retailers,
                      (SELECT count(*) FROM products) AS products,
                      (SELECT count(*) FROM notification_outbox) AS outbox"""
        ).fetchone()
    return dict(row)


NOTHING_LEFT = {"users": 0, "retailers": 0, "products": 0, "outbox": 0}


def test_smoke_passes_against_a_served_portal_and_leaves_nothing(
    dagbag: Any, served_portal: ServedPortal, running_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from pricehawk.ops.smoke import run_smoke

    report = run_smoke(served_portal.url, served_portal.settings)
    assert report.ok, report.summary()
    steps = [s.name for s in report.steps]
    assert steps == ["health", "database", "signup", "login", "checkout", "worker", "delete"]
    assert "Checkout session at " + served_portal.stripe.url in report.summary()
    assert "a worker evaluated the probe alert" in report.steps[5].detail
    # The account went through the portal's own deletion: its Stripe customer is gone too.
    assert served_portal.stripe.stand_in.sessions and not served_portal.stripe.stand_in.customers
    assert _smoke_leftovers(served_portal.settings.database_url) == NOTHING_LEFT

    # The DAG runs the same command, configured from its environment and the run's `url`.
    run = run_dag(dagbag, "deploy_smoke_test", run_conf={"url": served_portal.url})
    assert run.state == "success", failed_tasks(run)
    assert len(served_portal.stripe.stand_in.sessions) == 2
    assert _smoke_leftovers(served_portal.settings.database_url) == NOTHING_LEFT
    passed = batch_outcome(served_portal.settings, "deploy_smoke_test")
    assert passed["last_ok"] == 1

    # A deploy whose portal does not answer fails the run loudly, and the DAG's
    # on_failure_callback records it (PriceHawkBatchJobFailing) while keeping the last
    # success. Without its retry: the retry delay would only slow the test.
    monkeypatch.setattr(dagbag.dags["deploy_smoke_test"].task_dict["smoke"], "retries", 0)
    failed = run_dag(dagbag, "deploy_smoke_test", run_conf={"url": "http://127.0.0.1:9"})
    assert failed.state == "failed" and failed_tasks(failed) == ["smoke"]
    outcome = batch_outcome(served_portal.settings, "deploy_smoke_test")
    assert outcome["last_ok"] == 0
    assert outcome["last_run_timestamp_seconds"] == pytest.approx(failed.end_date.timestamp())
    assert outcome["last_success_timestamp_seconds"] == passed["last_success_timestamp_seconds"]
    assert _smoke_leftovers(served_portal.settings.database_url) == NOTHING_LEFT


def test_smoke_names_the_broken_step_and_still_cleans_up(
    served_portal: ServedPortal, capsys: pytest.CaptureFixture[str]
) -> None:
    from pricehawk.cli.ops import run_smoke as smoke_command
    from pricehawk.ops.smoke import run_smoke

    # No worker runs: everything up to the worker step passes, the worker step fails and
    # says why, and the account and the probe are removed all the same.
    report = run_smoke(served_portal.url, served_portal.settings, worker_wait_s=1.0)
    assert not report.ok
    assert report.failed is not None and report.failed.name == "worker"
    assert "no `pricehawk worker` evaluated the probe alert" in report.failed.detail
    assert [s.name for s in report.steps if s.ok] == [
        "health",
        "database",
        "signup",
        "login",
        "checkout",
    ]
    assert "probe removed" in report.cleanup
    assert _smoke_leftovers(served_portal.settings.database_url) == NOTHING_LEFT
    assert not served_portal.stripe.stand_in.customers

    # Nothing listens on port 9: `pricehawk smoke URL` exits 1 naming the first step.
    code = smoke_command(argparse.Namespace(url="http://127.0.0.1:9"), served_portal.settings)
    assert code == 1
    assert "SMOKE TEST FAILED at health" in capsys.readouterr().err
