"""Fan-out of one glitch to 100k matching subscribers vs a raw INSERT ... SELECT of the rows.

Ours: the real fan-out statement (preferences, markup margin, allowed channels per tier, quiet
hours in each user's time zone, the daily cap, public webhooks). Baseline: inserting exactly the
rows it produced, already computed, with one INSERT ... SELECT into the same table (same
indexes). Runs interleave; medians reported. Usage: bench_fanout.py [--subscribers N] [--runs R]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _notifybench import bench_database, seed_glitch, seed_product, seed_subscribers

from pricehawk import db
from pricehawk.notifications import queries
from pricehawk.notifications.service import allowed_channels

DELAYS = {"free": 259200, "starter": 86400, "pro": 0, "elite": 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with bench_database("fanout") as url, db.connect(url, autocommit=True) as conn:
        product = seed_product(conn)
        # every user: email; Pro and Elite also SMS (their plans allow it; others' do not)
        seed_subscribers(
            conn,
            args.subscribers,
            channel_sql="""SELECT id AS user_id, 'email' AS kind, email AS address FROM users
                           UNION ALL
                           SELECT id, 'sms', '+1555' || lpad(id::text, 7, '0') FROM users
                           WHERE tier IN ('pro', 'elite')""",
        )
        allowed = allowed_channels()
        ours: list[float] = []
        raw: list[float] = []
        rows = 0
        for _ in range(args.runs):
            glitch = seed_glitch(conn, product)
            started = time.perf_counter()
            with conn.transaction():
                rows = queries.fan_out_glitch(conn, glitch, DELAYS, allowed, ["discord:bench"])
            ours.append(time.perf_counter() - started)
            conn.execute("DROP TABLE IF EXISTS bench_rows")
            conn.execute(
                """CREATE TABLE bench_rows AS
                   SELECT user_id, channel, tier, due_at, public_target, variant
                   FROM notification_outbox WHERE glitch_id = %s""",
                (glitch,),
            )
            baseline_glitch = seed_glitch(conn, product)
            conn.execute("ANALYZE bench_rows")
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(
                    """INSERT INTO notification_outbox
                           (glitch_id, user_id, channel, tier, due_at, public_target, variant)
                       SELECT %s, user_id, channel, tier, due_at, public_target, variant
                       FROM bench_rows""",
                    (baseline_glitch,),
                )
            raw.append(time.perf_counter() - started)
            conn.execute("DROP TABLE bench_rows")
        ours_s, raw_s = statistics.median(ours), statistics.median(raw)
        print(f"subscribers: {args.subscribers}, outbox rows per glitch: {rows}")
        print(f"runs ours: {[round(x, 3) for x in ours]} raw: {[round(x, 3) for x in raw]}")
        print(
            f"fan-out of one glitch to {args.subscribers} subscribers: {ours_s:.3f} s"
            f" (baseline {raw_s:.3f} s, ratio {raw_s / ours_s:.2f})"
        )


if __name__ == "__main__":
    main()
