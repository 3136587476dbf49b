"""Operator accounts, the console's queries and Redis queue depths against the real
PostgreSQL and Redis (each test in a rolled-back transaction or its own key prefix)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis as redis_lib

from pricehawk.console import queries, queues
from pricehawk.operators import OperatorError, create_operator, sign_in

NOW = datetime.now(UTC)


def _retailer(conn: Any, slug: str = "acme") -> int:
    return int(conn.execute(
        "INSERT INTO retailers (slug, name) VALUES (%s, %s) RETURNING id", (slug, slug.title())
    ).fetchone()["id"])  # fmt: skip


def _product(conn: Any, retailer_id: int, url: str = "https://acme.test/p/1") -> int:
    return int(conn.execute(
        """INSERT INTO products (retailer_id, url, title, currency, last_observed_at,
                                 last_fetch_error)
           VALUES (%s, %s, 'Laptop', 'USD', now(), 'HTTP 503 from https://acme.test/p?token=abc')
           RETURNING id""",
        (retailer_id, url),
    ).fetchone()["id"])  # fmt: skip


def _user(conn: Any, email: str, tier: str = "pro") -> int:
    return int(conn.execute(
        "INSERT INTO users (email, tier) VALUES (%s, %s) RETURNING id", (email, tier)
    ).fetchone()["id"])  # fmt: skip


def test_operator_create_and_sign_in(conn: Any) -> None:
    op = create_operator(conn, "Alice", "correct horse battery staple", "admin")
    assert (op.username, op.role, op.can_act) == ("alice", "admin", True)
    with pytest.raises(OperatorError, match="already exists"):
        create_operator(conn, "alice", "another good passphrase", "viewer")
    with pytest.raises(OperatorError, match="at least 12"):
        create_operator(conn, "bob", "short")
    with pytest.raises(OperatorError, match="Role"):
        create_operator(conn, "carol", "correct horse battery staple", "root")
    ok = sign_in(conn, "ALICE ", "correct horse battery staple", NOW)
    assert ok.operator == op and ok.error == ""
    audit = conn.execute(
        "SELECT action FROM audit_log WHERE target = 'operator:alice' ORDER BY id"
    ).fetchall()
    assert [r["action"] for r in audit] == ["operator.create", "operator.sign_in"]


def test_sign_in_locks_after_five_failures_and_unlocks_later(conn: Any) -> None:
    create_operator(conn, "dave", "correct horse battery staple")
    for _ in range(5):
        assert sign_in(conn, "dave", "wrong password!!", NOW).operator is None
    locked = sign_in(conn, "dave", "correct horse battery staple", NOW + timedelta(minutes=1))
    assert locked.operator is None and "Too many" in locked.error
    later = sign_in(conn, "dave", "correct horse battery staple", NOW + timedelta(minutes=16))
    assert later.operator is not None
    reasons = conn.execute(
        """SELECT after ->> 'reason' AS r FROM audit_log
            WHERE action = 'operator.sign_in_failed' AND target = 'operator:dave' ORDER BY id"""
    ).fetchall()
    assert [r["r"] for r in reasons] == ["password"] * 5 + ["locked"]


def test_unknown_and_disabled_operators_get_the_same_answer(conn: Any) -> None:
    create_operator(conn, "erin", "correct horse battery staple")
    conn.execute("UPDATE operators SET disabled_at = now() WHERE username = 'erin'")
    unknown = sign_in(conn, "nobody", "correct horse battery staple", NOW)
    disabled = sign_in(conn, "erin", "correct horse battery staple", NOW)
    assert unknown.operator is None and disabled.operator is None
    assert unknown.error == disabled.error


def test_retailer_rows_aggregate_runs_failures_and_proxies(conn: Any) -> None:
    rid = _retailer(conn)
    _product(conn, rid)
    for minutes_ago, status, pages, blocked, failures, stats in (
        (30, "finished", 100, 10, {"http_403": 4, "timeout": 1}, {}),
        (5, "failed", 20, 15, {"http_403": 2, "exit": 1}, {"proxy/banned": 2, "proxy/ok": 5}),
    ):
        conn.execute(
            """INSERT INTO crawl_runs (retailer_id, spider, cycle_key, status, pages, items,
                                       blocked, failures, stats, started_at)
               VALUES (%s, 'catalog', 'k', %s, %s, 50, %s, %s, %s,
                       now() - make_interval(mins => %s))""",
            (rid, status, pages, blocked, json.dumps(failures), json.dumps(stats), minutes_ago),
        )
    (row,) = [r for r in queries.retailers(conn) if r.slug == "acme"]
    assert (row.runs_24h, row.failed_24h, row.pages_24h, row.blocked_24h) == (2, 1, 120, 25)
    assert row.block_rate == pytest.approx(25 / 120)
    assert row.failures == {"http_403": 6, "timeout": 1, "run failed": 1}  # 'exit' is no count
    assert row.proxy == {"proxy/banned": 2.0, "proxy/ok": 5.0}
    assert row.products == 1 and row.last_run is not None
    assert list(row.fetch_errors) == ["HTTP 503 from https://acme.test/…"]  # no token shown
    health = queries.crawl_health(conn)
    assert health.finished >= 1 and health.failed >= 1 and health.blocked >= 25


def test_funnel_latency_and_outbox_health(conn: Any) -> None:
    pid = _product(conn, _retailer(conn))
    uid = _user(conn, "frank@example.org")
    for i, (delay_s, status) in enumerate(((5, "sent"), (50, "sent"), (None, "pending"))):
        observed = NOW - timedelta(minutes=10 + i)
        aid = conn.execute(
            """INSERT INTO anomalies (product_id, observed_at, price, currency, confidence,
                                      glitch_type, status)
               VALUES (%s, %s, 1, 'USD', 0.9, 'extreme_discount', 'confirmed') RETURNING id""",
            (pid, observed),
        ).fetchone()["id"]
        gid = conn.execute(
            """INSERT INTO glitches (anomaly_id, product_id, price, currency, observed_at,
                                     confidence, glitch_type, validator)
               VALUES (%s, %s, 1, 'USD', %s, 0.9, 'extreme_discount', 'rules') RETURNING id""",
            (aid, pid, observed),
        ).fetchone()["id"]
        conn.execute(
            """INSERT INTO notification_outbox (glitch_id, user_id, channel, tier, due_at,
                                                status, sent_at)
               VALUES (%s, %s, 'email', 'pro', %s, %s, %s)""",
            (gid, uid, NOW - timedelta(minutes=9),  status,
             None if delay_s is None else observed + timedelta(seconds=delay_s)),
        )  # fmt: skip
    lat = queries.latency(conn)
    assert lat.samples == 2 and lat.p50_s == pytest.approx(27.5) and lat.p99_s > 49
    f = queries.funnel(conn)
    assert (f.anomalies, f.confirmed, f.glitches, f.notifications, f.sent) >= (3, 3, 3, 3, 2)
    box = queries.outbox_health(conn)
    assert box.due >= 1 and box.overdue >= 1


def test_outbox_rows_never_carry_contact_details(conn: Any) -> None:
    pid = _product(conn, _retailer(conn))
    uid = _user(conn, "grace.hopper@example.org")
    conn.execute(
        """INSERT INTO notification_channels (user_id, kind, address) VALUES (%s, 'sms', %s)""",
        (uid, "+14155550123"),
    )
    aid = conn.execute(
        """INSERT INTO anomalies (product_id, observed_at, price, currency, confidence,
                                  glitch_type)
           VALUES (%s, now(), 1, 'USD', 0.9, 'x') RETURNING id""",
        (pid,),
    ).fetchone()["id"]
    gid = conn.execute(
        """INSERT INTO glitches (anomaly_id, product_id, price, currency, observed_at, confidence,
                                 glitch_type, validator)
           VALUES (%s, %s, 1, 'USD', now(), 0.9, 'x', 'rules') RETURNING id""",
        (aid, pid),
    ).fetchone()["id"]
    for channel in ("sms", "email"):
        conn.execute(
            """INSERT INTO notification_outbox (glitch_id, user_id, channel, tier, due_at, status,
                                                last_error)
               VALUES (%s, %s, %s, 'pro', now(), 'dead', 'twilio: +14155550123 unreachable')""",
            (gid, uid, channel),
        )
    rows = {r.channel: r for r in queries.outbox_rows(conn, ("dead",)) if r.glitch_id == gid}
    assert rows["sms"].recipient == "+1••••••0123"
    assert rows["email"].recipient == "g***@e***.org"
    assert "5550123" not in repr(rows) and "grace" not in repr(rows)


def test_subscriber_summary_mrr_churn_and_failed_payments(conn: Any) -> None:
    for i, (tier, cycle, status) in enumerate(
        [("pro", "monthly", "active"), ("pro", "annual", "active"),
         ("starter", "monthly", "past_due"), ("elite", "monthly", "canceled"),
         ("starter", "monthly", "incomplete")]
    ):  # fmt: skip
        uid = _user(conn, f"sub{i}@example.org", tier)
        conn.execute(
            """INSERT INTO subscriptions (user_id, tier, billing_cycle, status)
               VALUES (%s, %s, %s, %s)""",
            (uid, tier, cycle, status),
        )
    conn.execute(
        """INSERT INTO webhook_events (provider, event_id, event_type, payload)
           VALUES ('stripe', 'evt_1', 'invoice.payment_failed', '{}'),
                  ('stripe', 'evt_2', 'invoice.paid', '{}')"""
    )
    s = queries.subscriber_summary(conn)
    assert s.active_by_tier == {"pro": 2, "starter": 1}
    assert s.mrr_by_tier == {"pro": Decimal("29") + Decimal("24.17"), "starter": Decimal("9.00")}
    assert s.churned_30d == 1 and s.churn_rate_30d == pytest.approx(1 / 4)
    assert (s.past_due, s.failed_payments_30d) == (1, 1)
    assert s.users_by_tier["pro"] >= 2


def test_anomaly_feed_filters_and_carries_operator_notes(conn: Any) -> None:
    pid = _product(conn, _retailer(conn, "zeta"))
    aid = conn.execute(
        """INSERT INTO anomalies (product_id, observed_at, price, baseline, currency, confidence,
                                  glitch_type, scores, reasons, status)
           VALUES (%s, now(), 10, 100, 'USD', 0.95, 'decimal_slip_10', '{"robust_z": 40}',
                   '{"price is a tenth"}', 'rejected') RETURNING id""",
        (pid,),
    ).fetchone()["id"]
    conn.execute(
        """INSERT INTO audit_log (actor, action, target, after)
           VALUES ('operator:alice', 'anomaly.reject', %s, '{"note": "price match"}')""",
        (f"anomaly:{aid}",),
    )
    (row,) = queries.anomaly_feed(conn, status="rejected", retailer="zeta")
    assert (row.id, row.scores, row.reasons) == (aid, {"robust_z": 40}, ["price is a tenth"])
    assert row.operator_note == "price match (operator:alice, anomaly.reject)"
    assert queries.anomaly_feed(conn, status="confirmed", retailer="zeta") == []
    conn.execute(
        """INSERT INTO price_observations (product_id, observed_at, price, currency)
           SELECT %s, now() - make_interval(mins => g), 100 + g, 'USD'
             FROM generate_series(1, 30) g""",
        (pid,),
    )
    history = queries.price_history(conn, pid, limit=10)
    assert len(history) == 10 and history[0].observed_at < history[-1].observed_at
    assert history[-1].price == Decimal("101")


def test_queue_depths_read_every_kind_of_key(redis_server_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_server_url, decode_responses=True)
    p = f"pricehawk-test-{uuid.uuid4().hex[:10]}:"
    client.rpush(p + "crawl:requests", *[f"u{i}" for i in range(7)])
    client.zadd(p + "catalog:requests", {"a": 1, "b": 2})
    client.sadd(p + "catalog:dupefilter:acme:20261123", "f1", "f2", "f3")
    client.set(p + "catalog:lock", "x")  # not a queue: skipped
    try:
        depths = queues.queue_depths(client, p)
    finally:
        client.delete(*client.keys(p + "*"))
        client.close()
    assert [(q.key, q.type, q.size) for q in depths] == [
        ("crawl:requests", "list", 7),
        ("catalog:dupefilter:acme:20261123", "set", 3),
        ("catalog:requests", "zset", 2),
    ]
    assert queues.by_spider(depths) == {
        "crawl": {"requests": 7}, "catalog": {"dupefilter": 3, "requests": 2},
    }  # fmt: skip
