"""Market context from the real database: the same GTIN's price level at other retailers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pricehawk.detection.queries import peer_prices

T = datetime(2025, 3, 10, 12, tzinfo=UTC)


def _listing(conn: Any, retailer: str, gtin: str, currency: str, prices: list[str]) -> int:
    rid = conn.execute(
        """INSERT INTO retailers (slug, name) VALUES (%s, %s)
           ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id""",
        (retailer, retailer.title()),
    ).fetchone()["id"]
    pid = int(
        conn.execute(
            """INSERT INTO products (retailer_id, url, gtin, currency)
               VALUES (%s, %s, %s, %s) RETURNING id""",
            (rid, f"https://{retailer}.example/p/{gtin}", gtin, currency),
        ).fetchone()["id"]
    )
    for k, price in enumerate(prices):  # the last one is the newest, an hour before T
        conn.execute(
            """INSERT INTO price_observations (product_id, observed_at, price, currency)
               VALUES (%s, %s, %s, %s)""",
            (pid, T - timedelta(hours=len(prices) - k), price, currency),
        )
    return pid


def test_peer_level_ignores_a_one_off_error_there(conn: Any) -> None:
    ours = _listing(conn, "ours", "0000000000017", "USD", ["899.00"])
    _listing(conn, "them", "0000000000017", "EUR", ["829.00", "831.00", "8.29"])
    _listing(conn, "other", "0000000000017", "USD", ["905.00"])
    _listing(conn, "ours2", "0000000000024", "USD", ["10.00"])  # another GTIN
    got = sorted(peer_prices(conn, "0000000000017", ours, T, 7 * 86400))
    # the EUR shop's level is 829, not its 8.29 slip an hour ago
    assert got == [(829.0, "EUR"), (905.0, "USD")]
    # a week later neither was seen recently enough to speak for the market
    assert peer_prices(conn, "0000000000017", ours, T + timedelta(days=8), 7 * 86400) == []
