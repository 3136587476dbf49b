"""Foundation: migrations, settings, registry, and the demo path end to end."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pricehawk import db
from pricehawk.retailers import RetailerConfigError, load_retailers, parse_retailer
from pricehawk.settings import SettingsError, load_settings
from tests.conftest import create_database, drop_database


def test_migrations_up_down_up(pg_server_url: str) -> None:
    name = "ph_migrate_cycle"
    drop_database(pg_server_url, name)
    url = create_database(pg_server_url, name)
    try:
        assert db.verify(url) == ["0001_core"] or db.verify(url)[0] == "0001_core"
        applied = db.upgrade(url)
        assert applied and all(s.applied for s in db.migration_status(url))
        db.downgrade(url, steps=0)
        with psycopg.connect(url) as c:
            assert c.execute("SELECT to_regclass('products')").fetchone() == (None,)
        assert db.upgrade(url) == applied
        assert db.verify(url) == []
    finally:
        drop_database(pg_server_url, name)


def test_observation_partitions_accept_any_date(conn: Any) -> None:
    conn.execute("INSERT INTO retailers (slug, name) VALUES ('r', 'R')")
    pid = conn.execute(
        "INSERT INTO products (retailer_id, url) SELECT id, 'u' FROM retailers RETURNING id"
    ).fetchone()["id"]
    for when in ("1999-01-01", "2031-06-01", "now()"):
        conn.execute(
            "INSERT INTO price_observations (product_id, observed_at, price, currency)"
            f" VALUES (%s, {'now()' if when == 'now()' else repr(when)}, 1, 'USD')",
            (pid,),
        )
    # creating a partition later moves the default partition's rows into it
    conn.execute("SELECT ensure_observation_partition('2031-06-15')")
    moved = conn.execute("SELECT count(*) AS n FROM price_observations_2031_06").fetchone()["n"]
    assert moved == 1


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="PRICEHAWK_LIVENESS_MAX_AGE"):
        load_settings({"PRICEHAWK_LIVENESS_MAX_AGE": "soon"})
    with pytest.raises(SettingsError, match="starter"):
        load_settings({"PRICEHAWK_TIER_DELAYS": "free=1,pro=0,elite=0"})
    s = load_settings({"STRIPE_API_KEY": "sk_live_x"})
    shown = {env: value for env, value, _doc in s.describe()}
    assert shown["STRIPE_API_KEY"] == "********"  # secrets are never printed


def test_retailer_errors_name_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(RetailerConfigError, match="x.yaml: fetch: must be"):
        parse_retailer({"slug": "x", "name": "X", "domains": ["x.com"], "fetch": "ftp"}, "x.yaml")
    with pytest.raises(RetailerConfigError, match="y.yaml: domains: at least one"):
        parse_retailer({"slug": "y", "name": "Y", "domains": []}, "y.yaml")
    (tmp_path / "bad.yaml").write_text("slug: [unclosed")
    with pytest.raises(RetailerConfigError, match="bad.yaml: not valid YAML"):
        load_retailers(tmp_path)


@pytest.mark.slow
def test_demo_delivers_planted_glitches_to_pro_only(settings: Any) -> None:
    """A planted glitch reaches a Pro subscriber's file channel; the ordinary sale nobody."""
    from pricehawk.demo import run_demo
    from sandbox.demo_shop import EVENTS

    lines: list[str] = []
    summary = run_demo(settings, cycles=4, out=lines.append)
    glitch_skus = {e.sku for e in EVENTS if e.kind != "sale"}
    sale_skus = {e.sku for e in EVENTS if e.kind == "sale"}
    with db.connect(settings.database_url) as c:
        flagged = {
            r["url"].rsplit("/", 1)[-1]
            for r in c.execute(
                "SELECT p.url FROM glitches g JOIN products p ON p.id = g.product_id"
            ).fetchall()
        }
    assert glitch_skus <= flagged
    assert not (sale_skus & flagged)
    pro_files = list((settings.home / "outbox" / "demo-pro").glob("*.json"))
    assert len(pro_files) == len(glitch_skus)
    texts = " ".join(json.loads(f.read_text())["text"] for f in pro_files)
    assert all(sku not in texts for sku in sale_skus)
    # Starter and Free wait their delay: nothing delivered to them yet
    assert not (settings.home / "outbox" / "demo-free").exists()
    statuses = {(n["tier"], n["status"]): n["n"] for n in summary["notifications"]}
    assert statuses[("starter", "pending")] == len(glitch_skus)
    assert any("Pro delivery" in line for line in lines)
    # running it again works and sends no duplicate for the old glitches
    run_demo(dataclasses.replace(settings), cycles=4, out=lines.append)
    assert len(list((settings.home / "outbox" / "demo-pro").glob("*.json"))) >= len(pro_files)
