"""Every corpus page reads as its `<!-- expect -->` line says; price F1 over the corpus."""

from __future__ import annotations

import pytest

from tests.extraction.corpus import Case, load_corpus, mismatches, price_f1

CASES = load_corpus()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_page(case: Case) -> None:
    result = case.run()
    assert mismatches(case, result) == [], result


def test_corpus_price_f1() -> None:
    pairs = [(c, c.run()) for c in CASES]
    _, _, f1 = price_f1(pairs)
    assert len(CASES) >= 50
    assert f1 >= 0.95
