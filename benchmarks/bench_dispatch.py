"""Dispatch throughput to a local SendGrid sink vs raw sends to it with the same library.

Ours: a Dispatcher as the worker runs it (DISPATCH_CONCURRENCY sends in flight): claim due
outbox rows, render (Jinja2 HTML + text, signed unsubscribe link), send
through the email channel (the `sendgrid` library), record each outcome. Baseline: the same
number of `sendgrid` sends of a comparable message, one after another, nothing else. The sink
(sandbox/sendgrid.py) runs in its own process. The same dispatcher one send at a time is
printed too, above the last line. Provider rate limits are off (PRICEHAWK_CHANNEL_
RATES is the provider's policy, not our overhead). Usage: bench_dispatch.py [--rows N] [--runs R]
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
import statistics
import subprocess
import sys
import time

from _notifybench import ROOT, bench_database, seed_glitch, seed_product, seed_subscribers
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from pricehawk import db
from pricehawk.notifications.service import Dispatcher, fan_out_pending
from pricehawk.settings import load_settings

SINK = """
import sys, threading
from sandbox.sendgrid import SendGridStandIn
s = SendGridStandIn(port=int(sys.argv[1])).start()
threading.Event().wait()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        with bench_database("dispatch") as dburl:
            settings = dataclasses.replace(
                load_settings({}, home=ROOT / ".pricehawk-bench" / "home"),
                database_url=dburl,
                sendgrid_api_key="SG.test-key",
                sendgrid_base_url=url,
                secret_key="bench-secret",  # noqa: S106 - signs links in a throwaway database
                channel_rates_raw="",
            )
            pool = db.make_pool(dburl, min_size=1, max_size=5)  # as the worker's
            with db.connect(dburl, autocommit=True) as conn:
                seed_subscribers(
                    conn,
                    args.rows,
                    channel_sql="SELECT id AS user_id, 'email' AS kind, email AS address"
                    " FROM users",
                )
                conn.execute("UPDATE users SET tier = 'pro'")
                conn.execute("DELETE FROM notification_preferences")
            dispatcher = Dispatcher(settings)  # DISPATCH_CONCURRENCY sends in flight
            sequential = Dispatcher(settings, concurrency=1)
            client = SendGridAPIClient(api_key="SG.test-key", host=url)
            ours: list[float] = []
            ours_sequential: list[float] = []
            raw: list[float] = []

            def timed_dispatch(d: Dispatcher) -> float:
                with db.connect(dburl, autocommit=True) as conn:
                    # a new product each time: the same deal again would be told only once
                    seed_glitch(conn, seed_product(conn))
                fan_out_pending(pool, settings)
                started = time.perf_counter()
                outcomes: dict[str, int] = {}
                while counts := d.dispatch(pool, limit=100):
                    for k, v in counts.items():
                        outcomes[k] = outcomes.get(k, 0) + v
                elapsed = time.perf_counter() - started
                assert outcomes == {"sent": args.rows}, outcomes
                return elapsed

            for _ in range(args.runs):
                ours.append(timed_dispatch(dispatcher))
                ours_sequential.append(timed_dispatch(sequential))
                started = time.perf_counter()
                for i in range(args.rows):
                    mail = Mail(
                        from_email="alerts@pricehawk.example",
                        to_emails=f"bench{i}@example.test",
                        subject="Price glitch: Bench gadget",
                        plain_text_content="Bench gadget at Shop: 10.00 USD (usually 100.00).",
                        html_content="<p>Bench gadget at Shop: 10.00 USD (usually 100.00).</p>",
                    )
                    response = client.client.mail.send.post(request_body=mail.get(), timeout=10)
                    assert response.status_code == 202
                raw.append(time.perf_counter() - started)
            dispatcher.close()
            pool.close()
        ours_rate = args.rows / statistics.median(ours)
        raw_rate = args.rows / statistics.median(raw)
        seq_rate = args.rows / statistics.median(ours_sequential)
        print(f"rows per run: {args.rows}; runs ours: {[round(x, 2) for x in ours]} s,"
              f" one at a time: {[round(x, 2) for x in ours_sequential]} s,"
              f" raw: {[round(x, 2) for x in raw]} s")  # fmt: skip
        print(
            f"one send at a time (concurrency 1): {seq_rate:.0f} sends/s"
            f" (ratio {seq_rate / raw_rate:.2f} against sequential raw sends)"
        )
        print(
            f"email dispatch throughput: {ours_rate:.0f} sends/s"
            f" (baseline {raw_rate:.0f} sends/s, ratio {ours_rate / raw_rate:.2f})"
        )
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
