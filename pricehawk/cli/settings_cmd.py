"""`pricehawk settings`: every setting, its value (secrets masked) and what it does."""

from __future__ import annotations

import argparse
from typing import Any

from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("settings", help="list every setting with its current value")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    for env, value, doc in settings.describe():
        print(f"{env}={value}\n    {doc}")
    return 0
