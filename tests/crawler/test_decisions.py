"""The pure crawl rules, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pricehawk.crawl.decisions import (
    backoff_delay,
    block_rate_action,
    canonical_url,
    cycle_key_for,
    next_circuit,
    next_free_slot,
    parse_retry_after,
    robots_allows,
    robots_policy,
    run_failed,
)

NOW = datetime(2026, 1, 1, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "policy"),
    [(200, "parse"), (204, "parse"), (301, "allow_all"), (401, "allow_all"), (403, "allow_all"),
     (404, "allow_all"), (410, "allow_all"), (429, "disallow_all"), (500, "disallow_all"),
     (503, "disallow_all"), (None, "disallow_all")],
)  # fmt: skip
def test_robots_policy_follows_rfc_9309(status: int | None, policy: str) -> None:
    assert robots_policy(status) == policy


def test_robots_rules_apply_to_our_agent() -> None:
    body = "User-agent: PriceHawkBot\nDisallow: /cart\n\nUser-agent: *\nDisallow: /\n"
    assert robots_allows("parse", body, "PriceHawkBot", "http://x/product/1")
    assert not robots_allows("parse", body, "PriceHawkBot", "http://x/cart")
    assert not robots_allows("parse", body, "OtherBot", "http://x/product/1")
    assert robots_allows("allow_all", "", "PriceHawkBot", "http://x/cart")
    assert not robots_allows("disallow_all", "", "PriceHawkBot", "http://x/")


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [(1, None, 1.0), (2, None, 2.0), (3, None, 4.0), (10, None, 60.0), (1, 30.0, 30.0),
     (3, 2.0, 4.0), (1, 120.0, 120.0)],
)  # fmt: skip
def test_backoff_is_exponential_capped_and_honours_retry_after(
    attempt: int, retry_after: float | None, expected: float
) -> None:
    assert backoff_delay(attempt, base_s=1, cap_s=60, retry_after_s=retry_after) == expected


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Thu, 01 Jan 2026 12:08:00 GMT", NOW) == 60
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [("HTTP://Shop.EXAMPLE:80/p?b=2&a=1#top", "http://shop.example/p?a=1&b=2"),
     ("https://x.example:443", "https://x.example/"),
     ("http://127.0.0.1:8700/acme/product/1", "http://127.0.0.1:8700/acme/product/1")],
)  # fmt: skip
def test_canonical_url_identifies_one_page(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


def test_cycle_key_is_stable_within_an_interval_and_changes_after() -> None:
    key = cycle_key_for("acme", NOW, 900)
    assert key == "acme-20260101T120000"
    assert cycle_key_for("acme", NOW + timedelta(minutes=7), 900) == key
    assert cycle_key_for("acme", NOW + timedelta(minutes=8), 900) != key


def test_shared_slot_spaces_requests() -> None:
    assert next_free_slot(10.0, 0.0, 1.0) == (0.0, 11.0)
    assert next_free_slot(10.5, 11.0, 1.0) == (0.5, 12.0)


@pytest.mark.parametrize(
    ("blocked", "pages", "factor", "expected"),
    [(5, 10, 1.0, (2.0, True)), (5, 10, 4.0, (8.0, True)), (9, 10, 8.0, (8.0, True)),
     (0, 10, 4.0, (2.0, True)), (0, 10, 2.0, (1.0, False)), (2, 10, 2.0, (2.0, True)),
     (5, 5, 1.0, (1.0, False))],
)  # fmt: skip
def test_block_rate_slows_down_and_recovers(
    blocked: int, pages: int, factor: float, expected: tuple[float, bool]
) -> None:
    assert block_rate_action(blocked, pages, threshold=0.3, min_pages=10, factor=factor) == expected


@pytest.mark.parametrize(
    ("pages", "items", "blocked", "failures", "failed"),
    [(0, 0, 0, 3, True), (0, 0, 0, 0, True), (10, 8, 8, False, True), (10, 8, 2, 0, False),
     (3, 0, 0, 0, False)],
)  # fmt: skip
def test_run_failed(pages: int, items: int, blocked: int, failures: int, failed: bool) -> None:
    assert run_failed(pages, items, blocked, failures) is failed


def test_circuit_opens_after_threshold_and_closes_on_success() -> None:
    state, failed, retry = next_circuit("closed", 0, ok=False, now=NOW)
    assert (state, failed, retry) == ("closed", 1, None)
    state, failed, retry = next_circuit("closed", 2, ok=False, now=NOW, base_s=900)
    assert (state, failed) == ("open", 3) and retry == NOW + timedelta(seconds=900)
    state, failed, retry = next_circuit("half_open", 3, ok=False, now=NOW, base_s=900)
    assert (state, failed) == ("open", 4) and retry == NOW + timedelta(seconds=1800)
    assert next_circuit("half_open", 4, ok=True, now=NOW) == ("closed", 0, None)
