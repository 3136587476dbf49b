"""SQL for preferences and channels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pricehawk.preferences.models import ChannelRow, Preferences


def load(conn: Any, user_id: int) -> tuple[Preferences | None, str]:
    """The user's saved preferences (None when never set) and their time zone."""
    row = conn.execute(
        """SELECT np.*, u.timezone FROM users u
           LEFT JOIN notification_preferences np ON np.user_id = u.id WHERE u.id = %s""",
        (user_id,),
    ).fetchone()
    if row is None or row["user_id"] is None:
        return None, row["timezone"] if row else "UTC"
    prefs = Preferences(
        tuple(row["retailers"]), tuple(row["categories"]), row["min_price"], row["max_price"],
        row["min_discount_pct"], row["min_margin_pct"], row["quiet_start"], row["quiet_end"],
        row["timezone"], row["daily_cap"],
    )  # fmt: skip
    return prefs, row["timezone"]


def save(conn: Any, user_id: int, p: Preferences) -> None:
    conn.execute(
        """INSERT INTO notification_preferences (user_id, retailers, categories, min_price,
               max_price, min_discount_pct, min_margin_pct, quiet_start, quiet_end, daily_cap)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (user_id) DO UPDATE SET retailers = excluded.retailers,
               categories = excluded.categories, min_price = excluded.min_price,
               max_price = excluded.max_price, min_discount_pct = excluded.min_discount_pct,
               min_margin_pct = excluded.min_margin_pct, quiet_start = excluded.quiet_start,
               quiet_end = excluded.quiet_end, daily_cap = excluded.daily_cap,
               updated_at = now()""",
        (user_id, list(p.retailers), list(p.categories), p.min_price, p.max_price,
         p.min_discount_pct, p.min_margin_pct, p.quiet_start, p.quiet_end, p.daily_cap),
    )  # fmt: skip
    conn.execute("UPDATE users SET timezone = %s WHERE id = %s", (p.timezone, user_id))


def channels(conn: Any, user_id: int) -> list[ChannelRow]:
    rows = conn.execute(
        """SELECT kind, address, verified_at IS NOT NULL AS verified, enabled
           FROM notification_channels WHERE user_id = %s ORDER BY kind""",
        (user_id,),
    ).fetchall()
    return [ChannelRow(**r) for r in rows]


def set_channel(conn: Any, user_id: int, kind: str, address: str, verified: bool) -> None:
    """Create or change a channel; a changed address needs verifying again."""
    conn.execute(
        """INSERT INTO notification_channels (user_id, kind, address, verified_at)
           VALUES (%s, %s, %s, CASE WHEN %s THEN now() END)
           ON CONFLICT (user_id, kind) DO UPDATE SET
               verified_at = CASE WHEN %s THEN now()
                                  WHEN notification_channels.address = excluded.address
                                  THEN notification_channels.verified_at END,
               address = excluded.address, enabled = true""",
        (user_id, kind, address, verified, verified),
    )


def remove_channel(conn: Any, user_id: int, kind: str) -> None:
    conn.execute(
        "DELETE FROM notification_channels WHERE user_id = %s AND kind = %s", (user_id, kind)
    )


def store_code(
    conn: Any, user_id: int, kind: str, address: str, code_hash: str, expires_at: datetime
) -> None:
    conn.execute(
        """INSERT INTO channel_verifications (user_id, kind, address, code_hash, expires_at)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (user_id, kind) DO UPDATE SET address = excluded.address,
               code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0,
               created_at = now()""",
        (user_id, kind, address, code_hash, expires_at),
    )


def take_code(conn: Any, user_id: int, kind: str) -> dict[str, Any] | None:
    """The pending code row, counting this attempt (locked against a racing check)."""
    row = conn.execute(
        """UPDATE channel_verifications SET attempts = attempts + 1
           WHERE user_id = %s AND kind = %s
           RETURNING address, code_hash, attempts, expires_at""",
        (user_id, kind),
    ).fetchone()
    return None if row is None else dict(row)


def drop_code(conn: Any, user_id: int, kind: str) -> None:
    conn.execute(
        "DELETE FROM channel_verifications WHERE user_id = %s AND kind = %s", (user_id, kind)
    )


def catalogue(conn: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """What the filters can choose from: (slug, name) of every retailer, and known categories."""
    retailers = conn.execute("SELECT slug, name FROM retailers ORDER BY name").fetchall()
    categories = conn.execute(
        """SELECT DISTINCT category FROM products WHERE category IS NOT NULL AND category <> ''
           ORDER BY category LIMIT 500"""
    ).fetchall()
    return [(r["slug"], r["name"]) for r in retailers], [c["category"] for c in categories]


def markup(conn: Any, user_id: int) -> Decimal:
    """The reseller markup (percent) the user adds to a buying price."""
    row = conn.execute("SELECT markup_pct FROM users WHERE id = %s", (user_id,)).fetchone()
    return Decimal(0) if row is None else Decimal(row["markup_pct"])


def set_markup(conn: Any, user_id: int, pct: Decimal) -> None:
    conn.execute("UPDATE users SET markup_pct = %s WHERE id = %s", (pct, user_id))


def set_enabled(conn: Any, user_id: int, kind: str, enabled: bool) -> bool:
    cur = conn.execute(
        "UPDATE notification_channels SET enabled = %s WHERE user_id = %s AND kind = %s",
        (enabled, user_id, kind),
    )
    return bool(cur.rowcount)


def pending_codes(conn: Any, user_id: int) -> dict[str, str]:
    """Numbers waiting for their verification code, by channel kind."""
    rows = conn.execute(
        """SELECT kind, address FROM channel_verifications
           WHERE user_id = %s AND expires_at > now()""",
        (user_id,),
    ).fetchall()
    return {r["kind"]: r["address"] for r in rows}
