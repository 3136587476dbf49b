"""The crawl task's own small decisions (everything else is pricehawk.crawl's, tested there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pricehawk.ops.crawl import breaker_blocks, previous_cycle_key

NOW = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "interval", "expected"),
    [
        (None, 900, None),  # never crawled: nothing to judge
        (NOW - timedelta(minutes=20), 900, "acme-20260301T114500"),
        (NOW - timedelta(minutes=2), 900, "acme-20260301T120000"),  # the current cycle
        (NOW - timedelta(hours=3), 3600, "acme-20260301T090000"),
    ],
)
def test_previous_cycle_key(last: datetime | None, interval: int, expected: str | None) -> None:
    assert previous_cycle_key("acme", last, interval) == expected


@pytest.mark.parametrize(
    ("state", "retry_at", "blocks"),
    [
        ("closed", None, False),
        ("half_open", None, False),
        ("open", NOW + timedelta(minutes=1), True),
        ("open", NOW, False),  # retry time reached: one trial cycle
        ("open", NOW - timedelta(minutes=1), False),
        ("open", None, False),
    ],
)
def test_breaker_blocks(state: str, retry_at: datetime | None, blocks: bool) -> None:
    assert breaker_blocks(state, retry_at, NOW) is blocks
