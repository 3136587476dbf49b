"""Pure decisions: masking, alerts, MRR, outbox action rules, queue key classification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pricehawk.console import alerts
from pricehawk.console.actions import outbox_actions_for
from pricehawk.console.masking import mask_contact, mask_email, mask_phone, mask_value, scrub
from pricehawk.console.models import (
    CrawlHealth,
    Funnel,
    Latency,
    OutboxHealth,
    Overview,
    RetailerRow,
    WorkerBeat,
)
from pricehawk.console.queries import monthly_revenue
from pricehawk.console.queues import classify
from pricehawk.operators import can_act, locked_until, password_problem, username_problem

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "address", "shown"),
    [
        ("email", "alice@example.com", "a***@e***.com"),
        ("email", "Bob.Smith+deals@mail.co.uk", "B***@m***.uk"),
        ("sms", "+14155550123", "+1••••••0123"),
        ("whatsapp", "whatsapp:+447700900123", "+4•••••••0123"),
        ("telegram", "987654321", "••••••321"),
        ("discord", "https://discord.com/api/webhooks/123/secret-token", "https://discord.com/…"),
        ("file", "demo-pro", "•••••pro"),
        ("", "+14155550123", "+1••••••0123"),
        ("email", "", ""),
    ],
)
def test_contact_details_are_masked(kind: str, address: str, shown: str) -> None:
    assert mask_contact(kind, address) == shown


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("550 rejected bob@example.org", "bob@example.org", "550 rejected"),
        ("401 token=abc123 for call", "abc123", "token=****"),
        ("Authorization: Bearer sk_live_123", "sk_live_123", "Authorization"),
        ("GET https://api.x.com/v1/send?key=zzz failed", "key=zzz", "https://api.x.com/…"),
        ("sms to +1 415 555 0123 failed", "555 0123", "0123"),
        ("chat 123456789012 blocked the bot", "123456789012", "blocked the bot"),
        ("timeout at 2026-11-23 12:30:11", "•", "2026-11-23 12:30:11"),
    ],
)
def test_scrub_hides_contacts_and_secrets_but_keeps_the_gist(
    text: str, hidden: str, kept: str
) -> None:
    out = scrub(text)
    assert hidden not in out and kept in out


def test_scrub_cuts_long_text() -> None:
    assert len(scrub("x" * 1000, limit=50)) == 50


def test_mask_value_walks_audit_json() -> None:
    masked = mask_value(
        {"email": "a@b.com", "nested": [{"phone": "+14155550123"}], "api_token": "t", "n": 3}
    )
    assert masked == {
        "email": "a***@b***.com",
        "nested": [{"phone": "+1••••••0123"}],
        "api_token": "****",
        "n": 3,
    }


def test_mask_email_and_phone_edge_cases() -> None:
    assert mask_email("no-at-sign") == "•••••••ign"
    assert mask_phone("123") == "•••"


def _overview(**changes: object) -> Overview:
    base: dict[str, object] = {
        "crawl": CrawlHealth(3600, runs=10, finished=10, pages=500, items=400),
        "items_per_minute": 30.0,
        "funnel": Funnel(86400),
        "latency": Latency(),
        "outbox": OutboxHealth(),
        "oldest_new_anomaly_s": None,
        "workers": [WorkerBeat("w1", "worker", NOW, 5.0)],
    }
    base.update(changes)
    return Overview(**base)  # type: ignore[arg-type]


def _retailer(**changes: object) -> RetailerRow:
    base: dict[str, object] = {
        "id": 1, "slug": "acme", "name": "Acme", "fetch_mode": "http", "paused": False,
        "circuit_state": "closed", "failed_runs": 0, "circuit_retry_at": None,
        "crawl_interval_s": 900, "last_crawl_at": NOW, "last_success_at": NOW,
        "last_price_at": NOW - timedelta(minutes=5), "products": 10, "last_run": None,
        "pages_24h": 100, "blocked_24h": 1,
    }  # fmt: skip
    base.update(changes)
    return RetailerRow(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overview", "retailer", "names"),
    [
        (_overview(), _retailer(), []),
        (_overview(outbox=OutboxHealth(overdue=2, due=2)), _retailer(), ["OutboxOverdue"]),
        (_overview(outbox=OutboxHealth(review=1, dead=3)), _retailer(),
         ["DeadLetters", "SendsNeedReview"]),
        (_overview(crawl=CrawlHealth(3600, finished=1, failed=3)), _retailer(), ["CrawlFailing"]),
        # two runs are too few to judge
        (_overview(crawl=CrawlHealth(3600, finished=0, failed=2)), _retailer(), []),
        (_overview(oldest_new_anomaly_s=900.0), _retailer(), ["ValidationLagging"]),
        (_overview(workers=[WorkerBeat("w1", "worker", NOW, 600.0)]), _retailer(),
         ["WorkerSilent"]),
        (_overview(), _retailer(circuit_state="open", failed_runs=3), ["CircuitOpen"]),
        (_overview(), _retailer(pages_24h=100, blocked_24h=30), ["BlockRateHigh"]),
        (_overview(), _retailer(pages_24h=10, blocked_24h=9), []),  # too few pages
        (_overview(), _retailer(last_price_at=NOW - timedelta(hours=2)), ["PricesStale"]),
        # paused on purpose: no retailer alerts
        (_overview(), _retailer(paused=True, circuit_state="open",
                                last_price_at=NOW - timedelta(days=2)), []),
    ],
)  # fmt: skip
def test_alerts_fire_on_their_thresholds(
    overview: Overview, retailer: RetailerRow, names: list[str]
) -> None:
    assert [a.name for a in alerts.firing(overview, [retailer], NOW)] == names


def test_critical_alerts_come_first() -> None:
    fired = alerts.firing(
        _overview(outbox=OutboxHealth(overdue=1, dead=1)), [_retailer(circuit_state="open")], NOW
    )
    assert fired[0].severity == "critical" and {a.severity for a in fired[1:]} == {"warning"}


@pytest.mark.parametrize(
    ("active", "mrr"),
    [
        ({}, {}),
        ({("pro", "monthly"): 2}, {"pro": Decimal("58.00")}),
        ({("starter", "annual"): 1, ("starter", "monthly"): 1}, {"starter": Decimal("16.50")}),
        ({("elite", "annual"): 3}, {"elite": Decimal("197.50")}),
        ({("free", "monthly"): 10}, {"free": Decimal("0.00")}),
    ],
)
def test_monthly_revenue(active: dict[tuple[str, str], int], mrr: dict[str, Decimal]) -> None:
    assert monthly_revenue(active) == mrr


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("pending", ["cancel"]),
        ("failed", ["retry", "cancel"]),
        ("dead", ["retry", "cancel"]),
        ("review", ["retry", "cancel", "mark_sent"]),
        ("sent", []),
        ("sending", []),
        ("cancelled", []),
    ],
)
def test_outbox_actions_by_status(status: str, allowed: list[str]) -> None:
    assert outbox_actions_for(status) == allowed


@pytest.mark.parametrize(
    ("key", "spider", "kind"),
    [
        ("catalog:requests", "catalog", "requests"),
        ("catalog:start_urls", "catalog", "start_urls"),
        ("catalog:dupefilter:acme:20261123T120000", "catalog", "dupefilter"),
        ("crawl:requests", "crawl", "requests"),
        ("crawl:seen:acme-20261123T120000", "crawl", "seen"),
        ("crawl:inflight:host-12-ab12cd", "crawl", "inflight"),
        ("catalog:items", "catalog", "items"),
        ("ratelimit:email", "ratelimit", "other"),
        ("solo", "solo", "other"),
    ],
)
def test_queue_keys_are_classified(key: str, spider: str, kind: str) -> None:
    assert classify(key) == (spider, kind)


@pytest.mark.parametrize(
    ("role", "acts"), [("viewer", False), ("operator", True), ("admin", True), ("x", False)]
)
def test_roles(role: str, acts: bool) -> None:
    assert can_act(role) is acts


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("alice-is-the-best-2026", "username"),
        ("correct horse battery staple", ""),
    ],
)
def test_password_policy(password: str, problem: str) -> None:
    found = password_problem(password, "alice")
    assert (problem in found) if problem else found == ""


@pytest.mark.parametrize(
    ("username", "ok"), [("alice", True), ("ops.bob-2", True), ("A", False), ("-x", False),
                         ("a b", False), ("Alice", False)],
)  # fmt: skip
def test_username_rules(username: str, ok: bool) -> None:
    assert (username_problem(username) == "") is ok


@pytest.mark.parametrize(("failures", "locked"), [(0, False), (4, False), (5, True), (9, True)])
def test_lockout_after_five_failures(failures: int, locked: bool) -> None:
    until = locked_until(failures, NOW)
    assert (until is not None) is locked
    if until:
        assert until == NOW + timedelta(minutes=15)
