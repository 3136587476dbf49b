"""`pricehawk demo`: the whole pipeline against the demo shop, ending with a summary."""

from __future__ import annotations

import argparse
from typing import Any

from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="crawl the demo shop, detect, validate, notify; summarise")
    p.add_argument("--cycles", type=int, default=4, help="crawl cycles (the last has glitches)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk.demo import run_demo

    summary = run_demo(settings, cycles=max(2, args.cycles))
    delivered = any(n["tier"] == "pro" and n["status"] == "sent" for n in summary["notifications"])
    return 0 if delivered else 1
