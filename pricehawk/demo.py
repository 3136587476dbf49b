"""The walking skeleton: crawl the demo shop, detect, validate, notify — then summarise.

`pricehawk demo` runs this. The crawler runs one subprocess per cycle (Twisted's reactor
cannot restart in one process); the worker runs in a thread of this process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pricehawk import db
from pricehawk.redis_conn import redis_url
from pricehawk.retailers import registry, sync_retailers
from pricehawk.settings import Settings
from pricehawk.tiers import TIERS
from pricehawk.worker import run_worker


@dataclass(frozen=True)
class DemoUser:
    email: str
    tier: str
    address: str  # the file channel's folder under PRICEHAWK_HOME/outbox/


DEMO_USERS = tuple(DemoUser(f"demo-{t}@pricehawk.example", t, f"demo-{t}") for t in TIERS)


def seed_demo_users(conn: Any) -> None:
    """One demo subscriber per tier with a verified file channel (idempotent)."""
    for user in DEMO_USERS:
        row = conn.execute(
            "SELECT id FROM users WHERE lower(email) = %s AND deleted_at IS NULL", (user.email,)
        ).fetchone()
        if row is None:
            row = conn.execute(
                """INSERT INTO users (email, tier, email_verified_at, is_demo)
                   VALUES (%s, %s, now(), true) RETURNING id""",
                (user.email, user.tier),
            ).fetchone()
        conn.execute(
            """INSERT INTO notification_channels (user_id, kind, address, verified_at)
               VALUES (%s, 'file', %s, now()) ON CONFLICT (user_id, kind) DO NOTHING""",
            (row["id"], user.address),
        )


def set_shop_cycle(shop_url: str, cycle: int) -> None:
    """Move the demo shop to a crawl cycle (its prices follow)."""
    if not shop_url.startswith("http://"):
        raise ValueError(f"the demo shop is served over http, not {shop_url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        f"{shop_url}/_control/cycle",
        data=json.dumps({"cycle": cycle}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


def crawl_subprocess(settings: Settings, env_overrides: dict[str, str], cycle_key: str) -> int:
    """Run `pricehawk crawl` in a fresh process (a fresh reactor) and wait for it."""
    env = {**os.environ, **env_overrides}
    command = [sys.executable, "-m", "pricehawk.cli.main", "crawl", "--cycle-key", cycle_key]
    return subprocess.run(command, env=env, check=False).returncode


def wait_until_settled(pool: Any, timeout_s: float) -> bool:
    """Wait until no anomaly awaits validation and no glitch awaits fan-out or a due send."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db.transaction(pool) as conn:
            row = conn.execute(
                """SELECT (SELECT count(*) FROM anomalies WHERE status = 'new')
                        + (SELECT count(*) FROM glitches WHERE fanned_out_at IS NULL)
                        + (SELECT count(*) FROM notification_outbox
                           WHERE status IN ('pending', 'sending') AND due_at <= now()) AS n"""
            ).fetchone()
        if row is not None and row["n"] == 0:
            return True
        time.sleep(0.2)
    return False


def run_demo(
    settings: Settings,
    *,
    cycles: int = 4,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole pipeline against the demo shop; return (and print) the summary."""
    from sandbox.demo_shop import DemoShop, ShopServer

    started = datetime.now(UTC)
    url = db.database_url(settings)
    rurl = redis_url(settings)
    out(f"database: {db.redact(url)}")
    applied = db.upgrade(url)
    out(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    shop = ShopServer(DemoShop(event_cycle=cycles - 1)).start()
    settings = dataclasses.replace(settings, demo_shop_url=shop.url)
    out(f"demo shop: {shop.url}")
    pool = db.make_pool(url, min_size=1, max_size=4)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(pool, url, settings, stop), kwargs={"idle_wake_s": 0.5}
    )
    try:
        with db.transaction(pool) as conn:
            sync_retailers(conn, registry(settings))
            seed_demo_users(conn)
        worker.start()
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": rurl,
            "PRICEHAWK_DEMO_SHOP_URL": shop.url,
            "PRICEHAWK_HOME": str(settings.home),
            # Scrapy's per-crawl stats dump would drown the summary.
            "PRICEHAWK_LOG_LEVEL": "WARNING",
        }
        run_key = started.strftime("%Y%m%dT%H%M%S")
        for cycle in range(cycles):
            set_shop_cycle(shop.url, cycle)
            out(f"crawl cycle {cycle + 1}/{cycles}...")
            code = crawl_subprocess(settings, env, f"demo-{run_key}-{cycle}")
            if code != 0:
                out(f"crawl cycle {cycle + 1} exited with status {code}")
        if not wait_until_settled(pool, timeout_s=30):
            out("warning: the worker had not caught up after 30 s")
        with db.transaction(pool) as conn:
            summary = collect_summary(conn, started)
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(timeout=10)
        pool.close()
        shop.stop()
    for line in format_summary(summary):
        out(line)
    return summary


def collect_summary(conn: Any, since: datetime) -> dict[str, Any]:
    """Counts for this run (everything since `since`) and Pro delivery latencies."""

    def scalar(sql: str, *params: Any) -> int:
        return int(conn.execute(sql, params).fetchone()["n"])

    notifications = conn.execute(
        """SELECT o.tier, o.status, count(*) AS n FROM notification_outbox o
           JOIN glitches g ON g.id = o.glitch_id WHERE g.validated_at >= %s
           GROUP BY 1, 2 ORDER BY 1, 2""",
        (since,),
    ).fetchall()
    glitches = conn.execute(
        """SELECT g.id, p.title, r.slug AS retailer, g.price, g.baseline, g.glitch_type,
                  g.confidence, g.validator, g.reasoning,
                  (SELECT min(o.sent_at) FROM notification_outbox o
                   WHERE o.glitch_id = g.id AND o.tier = 'pro' AND o.status = 'sent')
                  - g.observed_at AS pro_latency
           FROM glitches g JOIN products p ON p.id = g.product_id
           JOIN retailers r ON r.id = p.retailer_id
           WHERE g.validated_at >= %s ORDER BY g.id""",
        (since,),
    ).fetchall()
    return {
        "retailers": scalar("SELECT count(*) AS n FROM retailers"),
        "products": scalar("SELECT count(*) AS n FROM products"),
        "observations": scalar(
            "SELECT count(*) AS n FROM price_observations WHERE observed_at >= %s", since
        ),
        "anomalies": scalar("SELECT count(*) AS n FROM anomalies WHERE created_at >= %s", since),
        "glitches": [dict(g) for g in glitches],
        "notifications": [dict(n) for n in notifications],
    }


def format_summary(summary: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "PriceHawk demo summary",
        f"  retailers:    {summary['retailers']}",
        f"  products:     {summary['products']}",
        f"  observations: {summary['observations']} (this run)",
        f"  anomalies:    {summary['anomalies']}",
        f"  glitches:     {len(summary['glitches'])}",
    ]
    for g in summary["glitches"]:
        latency = g["pro_latency"]
        told = f"{latency.total_seconds():.2f} s" if latency is not None else "not delivered"
        lines.append(
            f"    #{g['id']} {g['title']} at {g['retailer']}: {g['price']:.2f}"
            f" (baseline {g['baseline']:.2f}) {g['glitch_type']}, confidence"
            f" {g['confidence']:.2f} by {g['validator']}; observation -> Pro delivery: {told}"
        )
        lines.append(f"       why: {g['reasoning']}")
    lines.append("  notifications by tier and status:")
    for n in summary["notifications"]:
        lines.append(f"    {n['tier']:<8} {n['status']:<8} {n['n']}")
    return lines
