"""`pricehawk settings`: every setting, its value (secrets masked) and what it does."""

from __future__ import annotations

import argparse
from typing import Any

from pricehawk.settings import SETTINGS, Settings


def register(sub: Any) -> None:
    p = sub.add_parser("settings", help="list every setting with its current value")
    p.add_argument("--markdown", action="store_true", help="the README's table of settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print("| Variable | Default | What it does |\n|---|---|---|")
        for s in SETTINGS:
            print(f"| `{s.env}` | {f'`{s.default}`' if s.default else '—'} | {s.doc} |")
        return 0
    for env, value, doc in settings.describe():
        print(f"{env}={value}\n    {doc}")
    return 0
