"""The pure rules, as tables; matching and quiet hours also checked against the SQL forms."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pricehawk.notifications import queries
from pricehawk.notifications.channels.telegram import escape_md
from pricehawk.notifications.matching import margin_pct, matches, quiet_release, step_alert
from pricehawk.notifications.models import AlertState, GlitchFacts, Preferences, SendResult
from pricehawk.notifications.policy import (
    backoff_seconds,
    describe_age,
    needs_recheck,
    outcome_status,
    still_live,
)
from pricehawk.notifications.tokens import (
    LINK_TOKEN_RE,
    new_link_token,
    read_unsubscribe_token,
    unsubscribe_token,
)
from tests.notifications.conftest import make_glitch, make_product, make_user

D = Decimal

GLITCH = GlitchFacts("shop", "electronics", D("10"), D("100"))

MATCH_TABLE = [
    (Preferences(), GLITCH, True),
    (Preferences(retailers=("other",)), GLITCH, False),
    (Preferences(retailers=("shop", "other")), GLITCH, True),
    (Preferences(categories=("toys",)), GLITCH, False),
    (Preferences(min_price=D("11")), GLITCH, False),
    (Preferences(max_price=D("9.99")), GLITCH, False),
    (Preferences(min_price=D("10"), max_price=D("10")), GLITCH, True),
    (Preferences(min_discount_pct=D("90")), GLITCH, True),
    (Preferences(min_discount_pct=D("90.01")), GLITCH, False),
    (Preferences(min_discount_pct=D("5")), GlitchFacts("shop", None, D("10"), None), False),
    # margin: resell at 100 * (1 + markup) against a cost of 10
    (Preferences(min_margin_pct=D("900")), GLITCH, True),
    (Preferences(min_margin_pct=D("901")), GLITCH, False),
    (Preferences(min_margin_pct=D("1000"), markup_pct=D("10")), GLITCH, True),
    (Preferences(min_margin_pct=D("800"), markup_pct=D("-20")), GLITCH, False),
    (Preferences(min_margin_pct=D("0")), GlitchFacts("shop", None, D("10"), None), False),
]


@pytest.mark.parametrize(("prefs", "glitch", "expected"), MATCH_TABLE)
def test_matches(prefs: Preferences, glitch: GlitchFacts, expected: bool) -> None:
    assert matches(prefs, glitch) is expected


def test_fan_out_sql_agrees_with_matches(conn: Any) -> None:
    """Every subscriber of the table against every glitch of it, in SQL and in Python."""
    glitch_ids: dict[GlitchFacts, int] = {}
    for facts in {g for _, g, _ in MATCH_TABLE}:
        product = make_product(conn, retailer=facts.retailer, category=facts.category)
        glitch_ids[facts] = make_glitch(conn, product, price=facts.price, baseline=facts.baseline)
    users: dict[int, Preferences] = {}
    for prefs, _, _ in MATCH_TABLE:
        columns = {
            "retailers": list(prefs.retailers),
            "categories": list(prefs.categories),
            "min_price": prefs.min_price,
            "max_price": prefs.max_price,
            "min_discount_pct": prefs.min_discount_pct,
            "min_margin_pct": prefs.min_margin_pct,
        }
        users[make_user(conn, "pro", markup_pct=prefs.markup_pct, prefs=columns)] = prefs
    for facts, glitch_id in glitch_ids.items():
        queries.fan_out_glitch(conn, glitch_id, {"pro": 0}, {"pro": ["file"]})
        rows = conn.execute(
            "SELECT user_id FROM notification_outbox WHERE glitch_id = %s", (glitch_id,)
        ).fetchall()
        assert {r["user_id"] for r in rows} == {u for u, p in users.items() if matches(p, facts)}


NY = "America/New_York"
QUIET = [
    # (due UTC, tz, start, end, released UTC)
    ("2024-06-03T12:00", "UTC", time(22), time(7), "2024-06-03T12:00"),
    ("2024-06-03T23:00", "UTC", time(22), time(7), "2024-06-04T07:00"),
    ("2024-06-04T03:00", "UTC", time(22), time(7), "2024-06-04T07:00"),
    ("2024-06-04T07:00", "UTC", time(22), time(7), "2024-06-04T07:00"),
    ("2024-06-03T13:00", "UTC", time(12), time(14), "2024-06-03T14:00"),
    ("2024-06-03T14:00", "UTC", time(12), time(14), "2024-06-03T14:00"),
    # 23:30 in New York (EDT, UTC-4) is 03:30 UTC the next day: quiet until 07:00 EDT = 11:00 UTC
    ("2024-06-04T03:30", NY, time(22), time(7), "2024-06-04T11:00"),
    # the same local time in winter (EST, UTC-5)
    ("2024-01-10T04:30", NY, time(22), time(7), "2024-01-10T12:00"),
    # across the spring-forward night: quiet ends at 07:00 EDT (11:00 UTC) on 10 March
    ("2024-03-10T05:00", NY, time(22), time(7), "2024-03-10T11:00"),
    ("2024-06-03T23:00", "Not/AZone", time(22), time(7), "2024-06-04T07:00"),
    ("2024-06-03T23:00", "UTC", None, time(7), "2024-06-03T23:00"),
    ("2024-06-03T23:00", "UTC", time(7), time(7), "2024-06-03T23:00"),
]


def _utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(("due", "tz", "start", "end", "released"), QUIET)
def test_quiet_release_python_and_sql_agree(
    conn: Any, due: str, tz: str, start: time | None, end: time | None, released: str
) -> None:
    assert quiet_release(_utc(due), tz, start, end) == _utc(released)
    valid = conn.execute("SELECT count(*) AS n FROM pg_timezone_names WHERE name = %s", (tz,))
    sql_tz = tz if valid.fetchone()["n"] else "UTC"  # the fan-out maps unknown zones to UTC
    row = conn.execute(
        "SELECT notify_quiet_release(%s, %s, %s, %s) AS t", (_utc(due), sql_tz, start, end)
    ).fetchone()
    assert row["t"] == _utc(released)


def alert_state(
    kind: str,
    threshold: str | None = None,
    armed: bool = True,
    ref: str | None = None,
    in_stock: bool | None = None,
) -> AlertState:
    return AlertState(
        kind, D(threshold) if threshold else None, armed, D(ref) if ref else None, in_stock
    )


ALERTS = [
    # alert, price, availability, lowest before -> fire, armed after, reference after
    (alert_state("target_price", "50"), "49", "in_stock", None, True, False, None),
    (alert_state("target_price", "50", armed=False), "45", "in_stock", None, False, False, None),
    (alert_state("target_price", "50", armed=False), "51", "in_stock", None, False, True, None),
    (alert_state("target_price", "50"), "60", "in_stock", None, False, True, None),
    (alert_state("pct_drop", "20"), "100", "in_stock", None, False, True, "100"),
    (alert_state("pct_drop", "20", ref="100"), "120", "in_stock", None, False, True, "120"),
    (alert_state("pct_drop", "20", ref="120"), "96", "in_stock", None, True, False, "96"),
    (alert_state("pct_drop", "20", ref="120"), "97", "in_stock", None, False, True, "120"),
    (
        alert_state("pct_drop", "20", armed=False, ref="96"),
        "90",
        "in_stock",
        None,
        False,
        False,
        "96",
    ),
    (
        alert_state("pct_drop", "20", armed=False, ref="96"),
        "99",
        "in_stock",
        None,
        False,
        True,
        "99",
    ),
    (alert_state("new_low"), "80", "in_stock", "90", True, False, "80"),
    (alert_state("new_low"), "90", "in_stock", "90", False, True, "90"),
    (alert_state("new_low"), "50", "in_stock", None, False, True, "50"),
    (alert_state("new_low", armed=False, ref="80"), "79", "in_stock", "80", False, False, "80"),
    (alert_state("new_low", armed=False, ref="80"), "85", "in_stock", "79", False, True, "80"),
    (alert_state("back_in_stock", in_stock=False), "10", "in_stock", None, True, False, None),
    (
        alert_state("back_in_stock", armed=False, in_stock=True),
        "10",
        "in_stock",
        None,
        False,
        False,
        None,
    ),
    (
        alert_state("back_in_stock", armed=False, in_stock=True),
        "10",
        "out_of_stock",
        None,
        False,
        True,
        None,
    ),
    (alert_state("back_in_stock", in_stock=None), "10", "in_stock", None, False, True, None),
    (alert_state("back_in_stock", in_stock=False), None, None, None, False, True, None),
]


@pytest.mark.parametrize(("alert", "price", "avail", "low", "fire", "armed", "ref"), ALERTS)
def test_alert_fires_once_then_rearms(
    alert: AlertState, price: str | None, avail: str | None, low: str | None,
    fire: bool, armed: bool, ref: str | None,
) -> None:  # fmt: skip
    step = step_alert(alert, D(price) if price else None, avail, D(low) if low else None)
    assert (step.fire, step.armed, step.reference_price) == (fire, armed, D(ref) if ref else None)


@pytest.mark.parametrize(
    ("result", "attempts", "status"),
    [
        (SendResult(True, "id"), 1, "sent"),
        (SendResult(False, error="x", unknown=True), 1, "review"),
        (SendResult(False, error="x", retryable=True), 1, "pending"),
        (SendResult(False, error="x", retryable=True), 5, "dead"),
        (SendResult(False, error="x"), 1, "failed"),
    ],
)
def test_outcome_status(result: SendResult, attempts: int, status: str) -> None:
    assert outcome_status(result, attempts, max_attempts=5) == status


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [(1, None, 30), (2, None, 60), (4, None, 240), (20, None, 3600), (1, 90.0, 90)],
)
def test_backoff(attempts: int, retry_after: float | None, expected: float) -> None:
    assert backoff_seconds(attempts, retry_after) == expected


NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "age_s", "reason"),
    [
        ("10.00", 60, None),
        ("10.40", 60, None),
        ("10.60", 60, "price is now"),
        ("10.00", 7200, "s old"),
        (None, 60, "no current price"),
    ],
)
def test_still_live(last: str | None, age_s: int, reason: str | None) -> None:
    got = still_live(
        D("10"), D(last) if last else None, NOW - timedelta(seconds=age_s), NOW,
        tolerance=0.05, max_age_s=3600,
    )  # fmt: skip
    assert (got is None) if reason is None else (reason in (got or ""))


@pytest.mark.parametrize(
    ("delayed", "age", "expected"),
    [
        (False, timedelta(seconds=10), False),
        (True, timedelta(seconds=10), True),
        (False, timedelta(hours=9), True),
    ],
)
def test_needs_recheck(delayed: bool, age: timedelta, expected: bool) -> None:
    assert needs_recheck(delayed, NOW - age, NOW) is expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30 s"), (125, "2 min"), (3600 * 3 + 300, "3 h 5 min"), (86400 * 3, "3 days")],
)
def test_describe_age(seconds: float, text: str) -> None:
    assert describe_age(seconds) == text


def test_margin_pct() -> None:
    assert margin_pct(D("50"), D("100"), D("0")) == D("100")
    assert margin_pct(D("50"), None, D("0")) is None


def test_escape_md_escapes_every_reserved_character() -> None:
    assert escape_md("_*[]()~`>#+-=|{}.!\\") == "".join("\\" + c for c in "_*[]()~`>#+-=|{}.!\\")


def test_unsubscribe_tokens_are_signed_and_scoped() -> None:
    token = unsubscribe_token("k", 42, "email")
    assert read_unsubscribe_token("k", token) == (42, "email")
    assert read_unsubscribe_token("other-key", token) is None
    assert read_unsubscribe_token("k", token.replace("42.", "43.")) is None
    assert read_unsubscribe_token("k", token.replace(".email.", ".sms.")) is None
    assert read_unsubscribe_token("", token) is None


def test_link_tokens_fit_telegram_start_parameter() -> None:
    tokens = {new_link_token() for _ in range(50)}
    assert len(tokens) == 50 and all(LINK_TOKEN_RE.match(t) for t in tokens)
