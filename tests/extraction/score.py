"""Score a folder of expectation-annotated pages: price precision/recall/F1 and every mismatch.

Used to measure a held-out batch *before* any tuning on it:
    .venv/bin/python -m tests.extraction.score tests/extraction/heldout/batch1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.extraction.corpus import load_corpus, mismatches, price_f1


def main() -> None:
    """Print each failing page with its mismatches, then the price P/R/F1 line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    args = parser.parse_args()
    cases = load_corpus(args.folder)
    pairs = [(c, c.run()) for c in cases]
    failing = 0
    for case, result in pairs:
        bad = mismatches(case, result)
        if bad:
            failing += 1
            if not args.quiet:
                print(f"{case.name}: " + "; ".join(bad))
    p, r, f1 = price_f1(pairs)
    print(
        f"{len(cases)} pages, {failing} with any mismatch; "
        f"price precision {p:.3f} recall {r:.3f} F1 {f1:.3f}"
    )


if __name__ == "__main__":
    main()
