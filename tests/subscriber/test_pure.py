"""Pure decisions behind the subscriber pages: URLs, alerts, preferences, charts, plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pricehawk.charts import price_chart_svg
from pricehawk.deals.models import describe_duration
from pricehawk.plans import channel_allowed, next_tier_up, plan_for
from pricehawk.preferences.validate import discord_webhook_ok, normalise_phone, parse_preferences
from pricehawk.tracking.models import TrackError
from pricehawk.tracking.service import normalise_url, parse_alert


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "https://Shop.example/p/1?utm_source=x&color=red#reviews",
            "https://shop.example/p/1?color=red",
        ),
        ("shop.example/p/2", "https://shop.example/p/2"),
        ("http://127.0.0.1:8700/acme/product/a?gclid=1", "http://127.0.0.1:8700/acme/product/a"),
    ],
)
def test_normalise_url(raw: str, expected: str) -> None:
    assert normalise_url(raw) == expected


@pytest.mark.parametrize("raw", ["", "ftp://x.example/a", "javascript:alert(1)", "https://"])
def test_normalise_url_rejects_non_links(raw: str) -> None:
    with pytest.raises(TrackError):
        normalise_url(raw)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("target_price", "$199.99", Decimal("199.99")),
        ("pct_drop", "20", Decimal("20")),
        ("new_low", "ignored", None),
        ("back_in_stock", None, None),
    ],
)
def test_parse_alert(kind: str, raw: str | None, expected: Decimal | None) -> None:
    assert parse_alert(kind, raw) == (kind, expected)


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("target_price", "cheap", "Enter a number"),
        ("target_price", "0", "more than 0"),
        ("pct_drop", "100", "between 1 and 99"),
        ("sometimes", "1", "Unknown alert"),
    ],
)
def test_parse_alert_errors(kind: str, raw: str, message: str) -> None:
    with pytest.raises(TrackError, match=message):
        parse_alert(kind, raw)


def _prefs(form: dict[str, str], multi: dict[str, list[str]] | None = None) -> dict[str, str]:
    return parse_preferences(
        form, multi or {}, known_retailers=["acme", "globex"], known_categories=["Audio"]
    )[1]


@pytest.mark.parametrize(
    ("form", "multi", "field"),
    [
        ({"min_price": "ten"}, {}, "min_price"),
        ({"min_price": "50", "max_price": "10"}, {}, "max_price"),
        ({"min_discount_pct": "120"}, {}, "min_discount_pct"),
        ({"quiet_start": "22:00"}, {}, "quiet_end"),
        ({"quiet_start": "25:99", "quiet_end": "07:00"}, {}, "quiet_start"),
        ({"timezone": "Mars/Olympus"}, {}, "timezone"),
        ({"daily_cap": "-3"}, {}, "daily_cap"),
        ({}, {"retailers": ["evil"]}, "retailers"),
        ({}, {"categories": ["Guns"]}, "categories"),
        ({"min_margin_pct": "x"}, {}, "min_margin_pct"),
    ],
)
def test_preference_errors_name_the_field(
    form: dict[str, str], multi: dict[str, list[str]], field: str
) -> None:
    assert field in _prefs(form, multi)


def test_good_preferences_parse() -> None:
    prefs, errors = parse_preferences(
        {"min_price": "10", "max_price": "900", "min_discount_pct": "50", "quiet_start": "22:00",
         "quiet_end": "07:00", "timezone": "Europe/Paris", "daily_cap": "5"},
        {"retailers": ["acme"], "categories": ["Audio"]},
        known_retailers=["acme"], known_categories=["Audio"],
    )  # fmt: skip
    assert errors == {}
    assert prefs.retailers == ("acme",) and prefs.daily_cap == 5
    assert prefs.timezone == "Europe/Paris" and prefs.min_discount_pct == Decimal(50)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+1 (415) 555-0100", "+14155550100"), ("+447911123456", "+447911123456"),
     ("0044 7911", None), ("+0123456789", None), ("phone", None)],
)  # fmt: skip
def test_normalise_phone(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://discord.com/api/webhooks/123456789012/abcdefghijklmnopqrstuvwxyz_-12", True),
        ("http://discord.com/api/webhooks/123456789012/abcdefghijklmnopqrstuvwxyz", False),
        ("https://evil.example/api/webhooks/123456789012/abcdefghijklmnopqrstuvwxyz", False),
        ("https://discord.com/channels/1/2", False),
    ],
)
def test_discord_webhook_check(url: str, ok: bool) -> None:
    assert discord_webhook_ok(url) is ok


def test_price_chart_is_a_step_line_with_escaped_labels() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    svg = price_chart_svg(
        [(t, Decimal("100")), (t + timedelta(days=1), Decimal("10"))],
        currency="<USD>",
        title="a & b",
    )
    assert svg.startswith("<svg") and "a &amp; b" in svg and "&lt;USD&gt;" in svg
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 3  # start, the held price at the change, the new price
    assert "No prices recorded yet" in price_chart_svg([])


@pytest.mark.parametrize(
    ("minutes", "text"), [(5, "5 min"), (125, "2 h 5 min"), (120, "2 h"), (60 * 24 * 3, "3 days")]
)
def test_describe_duration(minutes: int, text: str) -> None:
    assert describe_duration(timedelta(minutes=minutes)) == text


def test_plans() -> None:
    assert plan_for("nonsense").tier == "free"
    assert plan_for("elite").has_api and not plan_for("pro").has_api
    assert not channel_allowed("free", "sms") and channel_allowed("pro", "sms")
    assert next_tier_up("free").tier == "starter" and next_tier_up("elite") is None
    assert plan_for("pro").annual_saving_pct == 17
