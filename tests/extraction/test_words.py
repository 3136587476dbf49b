"""Words: a lower-case pattern searched in lower-cased text must match exactly what the same
pattern with IGNORECASE matches, and merging `\\b` alternatives must change no match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricehawk.extraction import health, visible
from pricehawk.extraction.words import Words, merge_boundaries

ALL_WORDS = [
    (f"{mod.__name__}.{name}", w)
    for mod in (visible, health)
    for name, w in vars(mod).items()
    if isinstance(w, Words)
]


def _vocabulary(pattern: str) -> list[str]:
    """Literal runs of the pattern ("save", "you save", "/ mo"): texts built from them hit
    the alternatives, where random text would match none."""
    return [w for w in re.split(r"\\[a-zA-Z]|[|()\[\]?*+{}^$\\]", pattern) if w.strip()] or ["x"]


@pytest.mark.parametrize(("name", "words"), ALL_WORDS, ids=[n for n, _ in ALL_WORDS])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_same_matches_as_ignorecase(name: str, words: Words, data: st.DataObject) -> None:
    vocab = _vocabulary(words.source)
    pieces = data.draw(
        st.lists(
            st.one_of(
                st.sampled_from(vocab),
                st.sampled_from(vocab).map(str.upper),
                st.sampled_from(vocab).map(str.title),
                st.text(alphabet=" -_$€1.,9%/+:xX", max_size=4),
            ),
            max_size=6,
        )
    )
    text = "".join(pieces)
    plain = re.compile(words.source, re.IGNORECASE)
    want = [m.span() for m in plain.finditer(text)]
    got = [m.span() for m in words.finditer(text)]
    assert got == want, (name, text)


def test_merge_keeps_order_and_groups_only_neighbours() -> None:
    assert merge_boundaries(r"\bsave\b|\boff\b|%|\bper\b") == r"\b(?:save\b|off\b)|%|\bper\b"
    assert merge_boundaries(r"a|(?:\bb|\bc)|[|\b]|\bd") == r"a|(?:\bb|\bc)|[|\b]|\bd"


def test_upper_case_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        Words(r"Sale|\bnow\b")
