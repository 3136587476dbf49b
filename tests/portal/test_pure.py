"""Pure decisions: password policy and hashing, throttling, Stripe object shapes, tiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pricehawk.accounts import passwords, throttle, tokens
from pricehawk.billing import events as ev

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PRICES = {"pro_monthly": "price_pm", "elite_annual": "price_ea"}


def test_hash_uses_argon2id_at_owasp_parameters() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(stored, "correct horse battery") == passwords.Verified(
        True, False
    )
    assert not passwords.verify_password(stored, "correct horse batter").ok


def test_changed_parameters_ask_for_a_rehash() -> None:
    old = passwords.hash_password("correct horse battery", passwords.HashParams(1, 8192, 1))
    assert passwords.verify_password(old, "correct horse battery").needs_rehash


def test_missing_hash_never_verifies() -> None:
    assert not passwords.verify_password(None, "anything at all").ok


@pytest.mark.parametrize(
    ("password", "ok"),
    [("1234567", False), ("12345678", False), ("password1", False), ("Password1", False),
     ("tr0ub4dor&3x", True), ("x" * 64, True), ("é" * 128, True), ("y" * 129, False)],
)  # fmt: skip
def test_password_policy(password: str, ok: bool) -> None:
    assert (passwords.password_problems(password) == []) is ok


def test_common_list_is_shipped() -> None:
    assert len(passwords.common_passwords()) > 8000 and "iloveyou" in passwords.common_passwords()


def test_device_cookie_is_signed() -> None:
    value = tokens.device_cookie("k", 7)
    assert tokens.read_device_cookie("k", value) == (7, value.split(".")[1])
    assert tokens.read_device_cookie("other", value) is None
    assert tokens.read_device_cookie("k", "8" + value[1:]) is None
    assert tokens.read_device_cookie("k", "garbage") is None


LIMIT = throttle.Limit(3, timedelta(minutes=15), timedelta(minutes=10))


@pytest.mark.parametrize(
    ("counter", "at", "failures", "locked"),
    [
        (None, NOW, 1, False),
        (throttle.Counter(1, NOW, None), NOW, 2, False),
        (throttle.Counter(2, NOW, None), NOW, 0, True),
        (throttle.Counter(2, NOW - timedelta(minutes=20), None), NOW, 1, False),  # new window
    ],
)
def test_after_failure(
    counter: throttle.Counter | None, at: datetime, failures: int, locked: bool
) -> None:
    after = throttle.after_failure(counter, at, LIMIT)
    assert after.failures == failures and throttle.is_locked(after, at) is locked
    if locked:
        assert throttle.retry_after([after], at) == 601
        assert not throttle.is_locked(after, at + timedelta(minutes=11))


@pytest.mark.parametrize(
    "invoice",
    [
        {"subscription": "sub_1"},
        {"subscription": {"id": "sub_1", "object": "subscription"}},
        {
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": "sub_1"},
            }
        },
        {"lines": {"data": [{"parent": {"subscription_item_details": {"subscription": "sub_1"}}}]}},
        {"lines": {"data": [{"subscription": "sub_1"}]}},
    ],
)
def test_invoice_subscription_in_both_shapes(invoice: dict[str, object]) -> None:
    assert ev.invoice_subscription_id(invoice) == "sub_1"


def test_invoice_without_subscription() -> None:
    assert ev.invoice_subscription_id({"parent": None, "lines": {"data": []}}) is None


@pytest.mark.parametrize("legacy", [True, False])
def test_subscription_state_in_both_shapes(legacy: bool) -> None:
    end = int(NOW.timestamp())
    item: dict[str, object] = {"price": {"id": "price_ea"}}
    sub: dict[str, object] = {"id": "sub_1", "customer": "cus_1", "status": "active",
                              "metadata": {"user_id": "5"}, "items": {"data": [item]}}  # fmt: skip
    (sub if legacy else item)["current_period_end"] = end
    state = ev.subscription_state(sub, PRICES)
    assert (state.tier, state.cycle, state.user_id, state.current_period_end) == (
        "elite",
        "annual",
        5,
        NOW,
    )


def test_unknown_price_falls_back_to_metadata() -> None:
    sub = {"id": "s", "status": "active", "metadata": {"tier": "pro", "cycle": "monthly"},
           "items": {"data": [{"price": {"id": "price_other"}}]}}  # fmt: skip
    state = ev.subscription_state(sub, PRICES)
    assert (state.tier, state.cycle) == ("pro", "monthly")


@pytest.mark.parametrize(
    ("status", "grace", "tier"),
    [("active", None, "pro"), ("trialing", None, "pro"),
     ("past_due", NOW + timedelta(days=1), "pro"),
     ("past_due", NOW - timedelta(seconds=1), "free"), ("canceled", None, "free"),
     ("unpaid", None, "free"), ("incomplete", None, "free"), ("paused", None, "free")],
)  # fmt: skip
def test_entitled_tier(status: str, grace: datetime | None, tier: str) -> None:
    assert ev.entitled_tier(status, "pro", grace, NOW) == tier


def test_best_tier() -> None:
    assert ev.best_tier(["free", "elite", "starter"]) == "elite"
    assert ev.best_tier([]) == "free"
