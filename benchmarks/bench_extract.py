"""Pages per second through `extract()` against a bare `lxml.html` parse of the same pages.

Both are measured in the same run on the fixture corpus (tests/extraction/pages), so the ratio
says how much the extractor costs on top of parsing, whatever the machine. Run:
    .venv/bin/python benchmarks/bench_extract.py [--seconds 3]
The last line is machine-readable; keep the ratio above 0.2.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pricehawk.extraction import extract  # noqa: E402

PAGES = ROOT / "tests" / "extraction" / "pages"
_URL = re.compile(rb'"url": "([^"]+)"')


def load_pages(match: str | None = None) -> list[tuple[bytes, str]]:
    """(html bytes, page URL) for every corpus page (whose name matches `match`, if given)."""
    pages = []
    for path in sorted(PAGES.glob("*.html")):
        if match and not re.search(match, path.stem):
            continue
        raw = path.read_bytes()
        m = _URL.search(raw.split(b"\n", 1)[0])
        pages.append((raw, m.group(1).decode() if m else "https://example.com/"))
    return pages


def one_round(fn: Callable[[bytes, str], object], pages: list[tuple[bytes, str]]) -> float:
    """Seconds fn takes over every page once."""
    start = time.perf_counter()
    for html, url in pages:
        fn(html, url)
    return time.perf_counter() - start


def measure(pages: list[tuple[bytes, str]], seconds: float) -> tuple[float, float]:
    """(extraction, baseline) pages/s, measured in alternating rounds.

    Alternating keeps the comparison fair on a shared machine: a burst of load from another
    process slows both sides alike instead of whichever happened to be running.
    """

    def parse_only(html: bytes, url: str) -> object:
        return lxml.html.document_fromstring(html)

    def through(html: bytes, url: str) -> object:
        return extract(html, url)

    one_round(parse_only, pages)  # warm-up: imports, regex compilation, caches
    one_round(through, pages)
    base_t = ext_t = 0.0
    rounds = 0
    while base_t + ext_t < seconds or rounds < 3:
        base_t += one_round(parse_only, pages)
        ext_t += one_round(through, pages)
        rounds += 1
    n = rounds * len(pages)
    return n / ext_t, n / base_t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="total measuring time")
    parser.add_argument(
        "--match", help="only pages whose name matches this regex (e.g. to compare a subset)"
    )
    args = parser.parse_args()
    pages = load_pages(args.match)
    size = sum(len(h) for h, _ in pages) / len(pages)
    print(f"{len(pages)} pages, {size / 1024:.1f} KiB average")
    through, baseline = measure(pages, args.seconds)
    print(
        f"extraction throughput: {through:.1f} pages/s "
        f"(baseline {baseline:.1f} pages/s, ratio {through / baseline:.3f})"
    )


if __name__ == "__main__":
    main()
