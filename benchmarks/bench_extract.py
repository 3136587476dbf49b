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


def load_pages() -> list[tuple[bytes, str]]:
    """(html bytes, page URL) for every corpus page."""
    pages = []
    for path in sorted(PAGES.glob("*.html")):
        raw = path.read_bytes()
        m = _URL.search(raw.split(b"\n", 1)[0])
        pages.append((raw, m.group(1).decode() if m else "https://example.com/"))
    return pages


def rate(
    fn: Callable[[bytes, str], object], pages: list[tuple[bytes, str]], seconds: float
) -> float:
    """Pages per second of fn over the pages, repeated for at least `seconds`."""
    for html, url in pages:  # warm-up: imports, regex compilation, caches
        fn(html, url)
    done = 0
    start = time.perf_counter()
    while True:
        for html, url in pages:
            fn(html, url)
        done += len(pages)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    pages = load_pages()
    size = sum(len(h) for h, _ in pages) / len(pages)
    print(f"{len(pages)} pages, {size / 1024:.1f} KiB average")
    baseline = rate(lambda h, u: lxml.html.document_fromstring(h), pages, args.seconds)
    through = rate(lambda h, u: extract(h, u), pages, args.seconds)
    print(
        f"extraction throughput: {through:.1f} pages/s "
        f"(baseline {baseline:.1f} pages/s, ratio {through / baseline:.3f})"
    )


if __name__ == "__main__":
    main()
