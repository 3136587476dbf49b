"""Fan-out: tiers and delays, allowed channels, quiet hours, the daily cap, public teasers,
re-runs and the same deal confirmed twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pricehawk.notifications import queries
from pricehawk.notifications.channels.discord import target_key
from pricehawk.notifications.service import allowed_channels
from tests.notifications.conftest import make_glitch, make_product, make_user, outbox

DELAYS = {"free": 259200, "starter": 86400, "pro": 0, "elite": 0}


def _fan_out(conn: Any, glitch_id: int, targets: tuple[str, ...] = ()) -> int:
    return queries.fan_out_glitch(conn, glitch_id, DELAYS, allowed_channels(), targets)


def test_tiers_get_their_delay_and_only_their_plan_channels(conn: Any) -> None:
    glitch = make_glitch(conn, make_product(conn))
    users = {
        tier: make_user(conn, tier, {"email": f"{tier}@x.test", "sms": "+15550000000"})
        for tier in DELAYS
    }
    assert _fan_out(conn, glitch) == 2 + 2 + 1 + 1  # pro/elite: email+sms; others: email only
    validated = conn.execute("SELECT validated_at FROM glitches WHERE id = %s", (glitch,))
    validated_at = validated.fetchone()["validated_at"]
    for tier, user in users.items():
        rows = outbox(conn, user_id=user)
        assert {r["due_at"] - validated_at for r in rows} == {timedelta(seconds=DELAYS[tier])}
        assert {r["channel"] for r in rows} == (
            {"email", "sms"} if DELAYS[tier] == 0 else {"email"}
        )


def test_fan_out_twice_writes_nothing_new(conn: Any) -> None:
    glitch = make_glitch(conn, make_product(conn))
    make_user(conn, "pro")
    assert _fan_out(conn, glitch) == 1
    assert _fan_out(conn, glitch) == 0
    assert len(outbox(conn, glitch_id=glitch)) == 1


def test_unverified_disabled_and_deleted_are_skipped(conn: Any) -> None:
    glitch = make_glitch(conn, make_product(conn))
    keep = make_user(conn, "pro")
    off = make_user(conn, "pro")
    conn.execute("UPDATE notification_channels SET enabled = false WHERE user_id = %s", (off,))
    unverified = make_user(conn, "pro")
    conn.execute(
        "UPDATE notification_channels SET verified_at = NULL WHERE user_id = %s", (unverified,)
    )
    gone = make_user(conn, "pro")
    conn.execute("UPDATE users SET deleted_at = now() WHERE id = %s", (gone,))
    _fan_out(conn, glitch)
    assert [r["user_id"] for r in outbox(conn, glitch_id=glitch)] == [keep]


def test_quiet_hours_push_due_time_to_the_end_of_the_window(conn: Any) -> None:
    glitch = make_glitch(conn, make_product(conn))
    now_local = conn.execute(
        "SELECT (now() AT TIME ZONE 'Asia/Tokyo')::time AS t, now() AS n"
    ).fetchone()
    start = (now_local["t"].hour - 1) % 24
    end = (now_local["t"].hour + 2) % 24
    from datetime import time

    quiet = make_user(
        conn, "pro", timezone="Asia/Tokyo",
        prefs={"quiet_start": time(start), "quiet_end": time(end)},
    )  # fmt: skip
    loud = make_user(conn, "pro", timezone="Asia/Tokyo")
    _fan_out(conn, glitch)
    [q] = outbox(conn, user_id=quiet)
    [loud_row] = outbox(conn, user_id=loud)
    local_due = conn.execute(
        "SELECT (%s::timestamptz AT TIME ZONE 'Asia/Tokyo')::time AS t", (q["due_at"],)
    ).fetchone()["t"]
    assert local_due == time(end)
    assert q["due_at"] > loud_row["due_at"]


def test_daily_cap_counts_glitches_per_local_day(conn: Any) -> None:
    capped = make_user(conn, "pro", {"email": "a@x.test", "sms": "+15550000000"},
                       prefs={"daily_cap": 2})  # fmt: skip
    free_user = make_user(conn, "pro")
    glitches = [make_glitch(conn, make_product(conn)) for _ in range(3)]
    for g in glitches:
        _fan_out(conn, g)
    capped_rows = outbox(conn, user_id=capped)
    assert {r["glitch_id"] for r in capped_rows} == set(glitches[:2])
    assert len(capped_rows) == 4  # both channels of the two glitches it allows
    assert len(outbox(conn, user_id=free_user)) == 3


def test_public_webhooks_get_a_teaser_now_and_the_deal_after_the_free_delay(conn: Any) -> None:
    glitch = make_glitch(conn, make_product(conn))
    target = target_key("https://discord.test/api/webhooks/1/secret")
    _fan_out(conn, glitch, (target,))
    rows = {r["variant"]: r for r in outbox(conn, glitch_id=glitch) if r["user_id"] is None}
    assert set(rows) == {"teaser", "deal"}
    assert rows["deal"]["due_at"] - rows["teaser"]["due_at"] == timedelta(seconds=DELAYS["free"])
    assert "secret" not in rows["deal"]["public_target"]
    assert _fan_out(conn, glitch, (target,)) == 0


def test_the_same_deal_confirmed_twice_is_told_once(conn: Any) -> None:
    """Two crawls saw the same glitch price: two glitches, one notification per subscriber."""
    from pricehawk.notifications.queries import earlier_twin

    product = make_product(conn)
    first = make_glitch(conn, product, price=Decimal("10"))
    make_user(conn, "pro")
    _fan_out(conn, first)
    second = make_glitch(conn, product, price=Decimal("10.20"))
    assert earlier_twin(conn, second, 0.05, 86400) == first
    different = make_glitch(conn, product, price=Decimal("5"))
    assert earlier_twin(conn, different, 0.05, 86400) is None
