"""Tracked-product alerts through the database: fire once, re-arm, fire again; delivered."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pricehawk.db import transaction
from pricehawk.notifications.service import dispatch_due, evaluate_alerts
from pricehawk.settings import Settings
from tests.notifications.conftest import make_product, make_user


def _observe(pool: Any, product: int, price: str, availability: str = "in_stock") -> None:
    with transaction(pool) as conn:
        conn.execute(
            """INSERT INTO price_observations (product_id, observed_at, price, currency,
                                               availability)
               VALUES (%s, clock_timestamp(), %s, 'USD', %s)""",
            (product, Decimal(price), availability),
        )
        conn.execute(
            """UPDATE products SET last_price = %s, availability = %s,
                   last_observed_at = (SELECT max(observed_at) FROM price_observations
                                       WHERE product_id = %s)
               WHERE id = %s""",
            (Decimal(price), availability, product, product),
        )


def test_alerts_fire_once_rearm_and_reach_the_user(pool: Any, settings: Settings) -> None:
    with transaction(pool) as conn:
        product = make_product(conn, price=Decimal("60"), availability="out_of_stock")
        user = make_user(conn, "free", {"file": "tracker"})
        tracked = conn.execute(
            "INSERT INTO tracked_products (user_id, product_id) VALUES (%s, %s) RETURNING id",
            (user, product),
        ).fetchone()["id"]
        for kind, threshold in (("target_price", "50"), ("back_in_stock", None),
                                ("new_low", None)):  # fmt: skip
            conn.execute(
                "INSERT INTO tracked_alerts (tracked_product_id, kind, threshold)"
                " VALUES (%s, %s, %s)",
                (tracked, kind, threshold),
            )

    def fired() -> list[str]:
        with transaction(pool) as conn:
            rows = conn.execute(
                """SELECT a.kind FROM alert_events e JOIN tracked_alerts a
                   ON a.id = e.tracked_alert_id ORDER BY e.id"""
            ).fetchall()
        return [r["kind"] for r in rows]

    _observe(pool, product, "60", "out_of_stock")
    assert evaluate_alerts(pool, settings) == 0
    assert evaluate_alerts(pool, settings) == 0  # nothing new observed: nothing looked at
    _observe(pool, product, "45")  # back in stock, below target, lowest yet
    assert evaluate_alerts(pool, settings) == 3
    assert fired() == ["target_price", "back_in_stock", "new_low"]
    _observe(pool, product, "44.50")  # still below target: no second target alert
    evaluate_alerts(pool, settings)
    assert fired().count("target_price") == 1
    _observe(pool, product, "55")  # back above target: re-armed
    evaluate_alerts(pool, settings)
    _observe(pool, product, "49")
    evaluate_alerts(pool, settings)
    assert fired().count("target_price") == 2
    counts = dispatch_due(pool, settings)
    assert counts == {"sent": len(fired())}
    texts = [
        json.loads(p.read_text())["text"]
        for p in sorted((settings.home / "outbox" / "tracker").glob("*.json"))
    ]
    assert any("Your target: 50.00 USD" in t for t in texts)
