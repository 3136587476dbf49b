"""Subscriber services against real PostgreSQL, Redis and the served demo shop."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis

from pricehawk import api_tokens, db
from pricehawk.deals.queries import visible_deals
from pricehawk.fetch import FetchError
from pricehawk.preferences import queries as prefs_queries
from pricehawk.preferences import verification
from pricehawk.retailers import registry, sync_retailers
from pricehawk.tracking import queries as tracking_queries
from pricehawk.tracking.models import TrackError, TrackLimitReached
from pricehawk.tracking.service import track_url


def _user(conn: Any, tier: str = "free", email: str = "u@example.com") -> int:
    return int(
        conn.execute(
            "INSERT INTO users (email, tier) VALUES (%s, %s) RETURNING id", (email, tier)
        ).fetchone()["id"]
    )


@pytest.fixture()
def shop_pool(shop_settings: Any, pool: Any) -> Any:
    with db.transaction(pool) as conn:
        sync_retailers(conn, registry(shop_settings))
    return pool


def test_track_a_pasted_url_reads_its_price(shop_settings: Any, shop_pool: Any) -> None:
    with db.transaction(shop_pool) as conn:
        user = _user(conn, "free")
    url = f"{shop_settings.demo_shop_url}/acme/product/acme-audio-0?utm_source=mail"
    card = track_url(shop_pool, shop_settings, user, "free", url)
    assert card.retailer == "acme" and card.price is not None and card.currency == "USD"
    assert card.url.endswith("/acme/product/acme-audio-0")  # campaign parameter dropped
    assert card.title and "NoiseAway" in card.title
    # pasting it again returns the same card, not a second product
    again = track_url(shop_pool, shop_settings, user, "free", url)
    assert again.id == card.id
    with db.transaction(shop_pool) as conn:
        assert tracking_queries.count_tracked(conn, user) == 1
        assert tracking_queries.upsert_alert(conn, user, card.id, "target_price", Decimal("5"))
        other = _user(conn, "pro", "other@example.com")
        # another user can neither alert on nor remove someone else's tracked product
        assert not tracking_queries.upsert_alert(conn, other, card.id, "new_low", None)
        assert not tracking_queries.remove_tracked(conn, other, card.id)
        assert tracking_queries.list_tracked(conn, user)[0].alerts[0].kind == "target_price"


def test_tier_limit_and_unknown_retailer(shop_settings: Any, shop_pool: Any) -> None:
    with db.transaction(shop_pool) as conn:
        user = _user(conn, "free")
    base = shop_settings.demo_shop_url
    for i in range(3):
        track_url(shop_pool, shop_settings, user, "free", f"{base}/globex/product/globex-audio-{i}")
    with pytest.raises(TrackLimitReached, match="Upgrade to Starter"):
        track_url(shop_pool, shop_settings, user, "free", f"{base}/globex/product/globex-audio-3")
    with pytest.raises(TrackError, match="doesn't cover"):
        track_url(shop_pool, shop_settings, user, "free", "https://unknown.example/p/1")


def test_tracking_a_page_without_price_or_unreachable(shop_settings: Any, shop_pool: Any) -> None:
    with db.transaction(shop_pool) as conn:
        user = _user(conn, "pro")
    base = shop_settings.demo_shop_url
    with pytest.raises(TrackError, match="answered 404"):
        track_url(shop_pool, shop_settings, user, "pro", f"{base}/acme/product/missing")

    def dead(url: str, **_: Any) -> Any:
        raise FetchError("connection refused")

    with pytest.raises(TrackError, match="couldn't load"):
        track_url(shop_pool, shop_settings, user, "pro", f"{base}/acme/product/acme-audio-1",
                  fetcher=dead)  # fmt: skip
    with db.transaction(shop_pool) as conn:
        assert tracking_queries.count_tracked(conn, user) == 0


def test_deals_respect_the_tier_delay(conn: Any) -> None:
    conn.execute("INSERT INTO retailers (slug, name) VALUES ('shop', 'Shop')")
    pid = conn.execute(
        "INSERT INTO products (retailer_id, url, title) SELECT id, 'u', 'Laptop' FROM retailers"
        " WHERE slug = 'shop' RETURNING id"
    ).fetchone()["id"]
    now = datetime.now(UTC)
    aid = conn.execute(
        """INSERT INTO anomalies (product_id, observed_at, price, currency, confidence,
           glitch_type) VALUES (%s, %s, 129.99, 'USD', 0.9, 'decimal_slip_10') RETURNING id""",
        (pid, now - timedelta(hours=2)),
    ).fetchone()["id"]
    conn.execute(
        """INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency, observed_at,
           confidence, glitch_type, validator, validated_at)
           VALUES (%s, %s, 129.99, 1299.99, 'USD', %s, 0.9, 'decimal_slip_10', 'rules', %s)""",
        (aid, pid, now - timedelta(hours=2), now - timedelta(hours=1)),
    )
    pro = visible_deals(conn, timedelta(0), now)
    assert [d.title for d in pro] == ["Laptop"] and pro[0].discount_pct == 90
    assert visible_deals(conn, timedelta(hours=24), now) == []
    assert len(visible_deals(conn, timedelta(hours=24), now + timedelta(days=1))) == 1


def test_verification_code_flow(conn: Any) -> None:
    user = _user(conn)
    code = verification.start(conn, "k", user, "sms", "+14155550100")
    assert verification.confirm(conn, "k", user, "sms", "000000" if code != "000000" else "1")
    assert verification.confirm(conn, "k", user, "sms", code) is None
    [channel] = prefs_queries.channels(conn, user)
    assert channel.kind == "sms" and channel.verified
    assert verification.confirm(conn, "k", user, "sms", code) == "Send yourself a code first."
    # too many wrong tries burn the code
    code = verification.start(conn, "k", user, "whatsapp", "+14155550100")
    for _ in range(verification.MAX_ATTEMPTS):
        verification.confirm(conn, "k", user, "whatsapp", "x")
    assert "Too many" in (verification.confirm(conn, "k", user, "whatsapp", code) or "")


def test_api_tokens_and_rate_limit(conn: Any, settings: Any) -> None:
    user = _user(conn, "elite")
    token = api_tokens.create_token(conn, user, "laptop script")
    who = api_tokens.authenticate(conn, token)
    assert who is not None and who.user_id == user and who.tier == "elite"
    assert api_tokens.authenticate(conn, token + "x") is None
    [info] = api_tokens.list_tokens(conn, user)
    assert token.startswith(info.prefix) and token not in str(info)
    assert api_tokens.revoke_token(conn, user, info.id)
    assert api_tokens.authenticate(conn, token) is None
    client = redis.Redis.from_url(settings.redis_url)
    now = 1_000_000 * 60 + 30.0
    waits = [api_tokens.rate_limit(client, settings.redis_prefix, user, 3, now) for _ in range(4)]
    assert waits[:3] == [None, None, None] and waits[3] == 30
    # a new minute opens a new window
    assert api_tokens.rate_limit(client, settings.redis_prefix, user, 3, now + 60) is None
    client.close()
    assert dataclasses.is_dataclass(info)
