"""SQL for tracked products, their alerts and price history."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from pricehawk.tracking.models import Alert, PricePointRow, TrackedProduct

_LIST = """
SELECT t.id, t.product_id, p.url, r.slug AS retailer, p.title, p.image_url,
       p.last_price AS price, p.currency, p.availability, p.last_observed_at, t.paused,
       (SELECT min(o.price) FROM price_observations o WHERE o.product_id = p.id) AS lowest_price
FROM tracked_products t
JOIN products p ON p.id = t.product_id
JOIN retailers r ON r.id = p.retailer_id
WHERE t.user_id = %(user_id)s {extra}
ORDER BY t.created_at DESC, t.id DESC
"""


def list_tracked(conn: Any, user_id: int, tracked_id: int | None = None) -> list[TrackedProduct]:
    """The user's tracked products (or one of them), newest first, with their alerts."""
    extra = "AND t.id = %(tracked_id)s" if tracked_id is not None else ""
    rows = conn.execute(
        _LIST.format(extra=extra), {"user_id": user_id, "tracked_id": tracked_id}
    ).fetchall()
    alerts: dict[int, list[Alert]] = defaultdict(list)
    if rows:
        for a in conn.execute(
            """SELECT id, tracked_product_id, kind, threshold, armed, last_fired_at
               FROM tracked_alerts WHERE tracked_product_id = ANY(%s) ORDER BY kind""",
            ([r["id"] for r in rows],),
        ).fetchall():
            alerts[a["tracked_product_id"]].append(
                Alert(a["id"], a["kind"], a["threshold"], a["armed"], a["last_fired_at"])
            )
    return [TrackedProduct(**r, alerts=tuple(alerts[r["id"]])) for r in rows]


def count_tracked(conn: Any, user_id: int) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM tracked_products WHERE user_id = %s", (user_id,)
    ).fetchone()
    return int(row["n"])


def product_id_for(conn: Any, retailer: str, url: str) -> int | None:
    row = conn.execute(
        """SELECT p.id FROM products p JOIN retailers r ON r.id = p.retailer_id
           WHERE r.slug = %s AND p.url = %s""",
        (retailer, url),
    ).fetchone()
    return None if row is None else int(row["id"])


def add_tracked(conn: Any, user_id: int, product_id: int) -> int:
    """Track a product for a user (idempotent); returns the tracked-product id."""
    row = conn.execute(
        """INSERT INTO tracked_products (user_id, product_id) VALUES (%s, %s)
           ON CONFLICT (user_id, product_id) DO UPDATE SET paused = tracked_products.paused
           RETURNING id""",
        (user_id, product_id),
    ).fetchone()
    return int(row["id"])


def set_paused(conn: Any, user_id: int, tracked_id: int, paused: bool) -> bool:
    cur = conn.execute(
        "UPDATE tracked_products SET paused = %s WHERE id = %s AND user_id = %s",
        (paused, tracked_id, user_id),
    )
    return bool(cur.rowcount)


def remove_tracked(conn: Any, user_id: int, tracked_id: int) -> bool:
    cur = conn.execute(
        "DELETE FROM tracked_products WHERE id = %s AND user_id = %s", (tracked_id, user_id)
    )
    return bool(cur.rowcount)


def upsert_alert(
    conn: Any, user_id: int, tracked_id: int, kind: str, threshold: Decimal | None
) -> bool:
    """Create or change one alert of the user's own tracked product (re-armed)."""
    cur = conn.execute(
        """INSERT INTO tracked_alerts (tracked_product_id, kind, threshold)
           SELECT t.id, %s, %s FROM tracked_products t WHERE t.id = %s AND t.user_id = %s
           ON CONFLICT (tracked_product_id, kind)
           DO UPDATE SET threshold = excluded.threshold, armed = true""",
        (kind, threshold, tracked_id, user_id),
    )
    return bool(cur.rowcount)


def delete_alert(conn: Any, user_id: int, tracked_id: int, kind: str) -> bool:
    cur = conn.execute(
        """DELETE FROM tracked_alerts a USING tracked_products t
           WHERE a.tracked_product_id = t.id AND t.id = %s AND t.user_id = %s AND a.kind = %s""",
        (tracked_id, user_id, kind),
    )
    return bool(cur.rowcount)


def price_history(conn: Any, product_id: int, since: datetime) -> list[PricePointRow]:
    """A product's observations since `since`, oldest first."""
    rows = conn.execute(
        """SELECT observed_at, price, availability FROM price_observations
           WHERE product_id = %s AND observed_at >= %s ORDER BY observed_at""",
        (product_id, since),
    ).fetchall()
    return [PricePointRow(**r) for r in rows]


def user_can_see_product(conn: Any, user_id: int, product_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM tracked_products WHERE user_id = %s AND product_id = %s",
        (user_id, product_id),
    ).fetchone()
    return row is not None
