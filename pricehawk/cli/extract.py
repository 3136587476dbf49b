"""`pricehawk extract [--url URL] URL_OR_FILE`: what the extractor reads from one page.

Prints one JSON object (see ExtractionResult.to_json_dict). Exit status: 0 a price was found,
1 none was (the JSON is still printed), 2 a usage or fetch error (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pricehawk.settings import Settings

EXIT_PRICE, EXIT_NO_PRICE, EXIT_ERROR = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add the `extract` command."""
    p = subparsers.add_parser(
        "extract",
        help="read title, price, currency... from one product page (URL or saved HTML file)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "target", metavar="URL_OR_FILE", help="http(s) URL to fetch, file, or - for stdin"
    )
    p.add_argument("--url", help="the page's URL when reading a file (for domain, links, variants)")
    p.add_argument(
        "--selectors",
        metavar="YAML",
        help="retailer YAML (its `extraction:` mapping, or a bare mapping) to try selectors from",
    )
    p.add_argument("--locale", help="page locale, e.g. es_CL (default: from the page and domain)")
    p.add_argument("--currency", help="ISO 4217 currency when the page does not say, e.g. CLP")
    p.add_argument("--timeout", type=float, default=15.0, help="fetch timeout in seconds")
    p.add_argument(
        "--details",
        action="store_true",
        help="also print candidates, offers (variants) and disagreements",
    )
    p.set_defaults(func=run)


def _error(message: str) -> int:
    print(f"pricehawk extract: {message}", file=sys.stderr)
    return EXIT_ERROR


def _load_selectors(path: str) -> Any:
    import yaml

    from pricehawk.extraction import SelectorConfig

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("extraction"), dict):
        data = data["extraction"]
    return SelectorConfig.from_mapping(data)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch or read the page, extract, print JSON; return the exit status."""
    from w3lib.encoding import html_to_unicode

    from pricehawk.extraction import SelectorConfigError, extract
    from pricehawk.fetch import FetchError, fetch

    target: str = args.target
    selectors = None
    if args.selectors:
        try:
            selectors = _load_selectors(args.selectors)
        except (OSError, SelectorConfigError, ValueError) as exc:
            return _error(f"cannot use selectors from {args.selectors}: {exc}")
    if args.currency and not (len(args.currency) == 3 and args.currency.isalpha()):
        return _error(f"--currency must be an ISO 4217 code like USD, not {args.currency!r}")
    status: int | None = None
    if target.startswith(("http://", "https://")):
        try:
            fetched = fetch(target, user_agent=settings.user_agent, timeout=args.timeout)
        except FetchError as exc:
            return _error(str(exc))
        # The HTTP header's charset comes first (WHATWG encoding sniffing), then the page's own.
        html: str | bytes = (
            html_to_unicode(fetched.headers.get("content-type"), fetched.content)[1]
            if fetched.content
            else fetched.text
        )
        url = args.url or fetched.url
        status = fetched.status
    elif "://" in target:
        return _error(f"only http(s) URLs can be fetched: {target}")
    else:
        try:
            html = sys.stdin.buffer.read() if target == "-" else Path(target).read_bytes()
        except OSError as exc:
            return _error(f"cannot read {target}: {exc.strerror or exc}")
        url = args.url or ("" if target == "-" else Path(target).resolve().as_uri())
    result = extract(
        html,
        url,
        selectors=selectors,
        locale=args.locale,
        currency=args.currency.upper() if args.currency else None,
        status=status,
    )
    print(json.dumps(result.to_json_dict(details=args.details), ensure_ascii=False, indent=2))
    return EXIT_PRICE if result.price is not None else EXIT_NO_PRICE
