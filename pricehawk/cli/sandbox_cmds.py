"""`pricehawk demo-shop`: serve the sandbox's demo shop on loopback."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("demo-shop", help="serve the demo shop (three fictional retailers)")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--event-cycle", type=int, default=3, help="cycle the planted events start")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sandbox.demo_shop import DemoShop, ShopServer

    server = ShopServer(DemoShop(args.seed, args.event_cycle), port=args.port).start()
    print(f"demo shop on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    finally:
        server.stop()
    return 0
