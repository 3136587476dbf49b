"""Pages whose right answer the extractor does not reach yet (kept honest, not hidden).

Each page's `<!-- expect -->` line is the truth. The extractor must never read a *wrong* price
from them: no price (undecided) is acceptable, another price is not, except on the pages whose
expectation says `known_wrong` (what it reads instead, and why): those are listed, not hidden.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.extraction.corpus import Case, load_corpus

MISSES = load_corpus(Path(__file__).parent / "known_misses")


@pytest.mark.parametrize("case", MISSES, ids=[c.name for c in MISSES])
def test_a_known_miss_never_reads_a_wrong_price(case: Case) -> None:
    result = case.run()
    want = case.expect.get("price")
    right = result.price is None or result.price == (Decimal(want) if want else None)
    assert right != bool(case.expect.get("known_wrong")), result


def test_known_misses_are_still_misses() -> None:
    """When one starts passing, move it into pages/ (this keeps the list true)."""
    from tests.extraction.corpus import mismatches

    assert all(mismatches(c, c.run()) for c in MISSES)
