"""Case-insensitive patterns matched fast: a lower-case pattern searched in lower-cased text.

Python's `re` cannot use its literal-prefix scan under IGNORECASE, so a long alternation of
words ("member price|club price|...") costs several times more than the same pattern searched
case-sensitively in `text.lower()`. The rules in this package run such patterns over every
price element's hooks and labels, which made them the largest single cost of extraction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


class Words:
    """A compiled pattern whose `search`/`finditer` ignore case.

    The pattern must be written in lower case (checked when it is compiled); matches are
    against the lower-cased text, so a match's groups come back lower-cased."""

    __slots__ = ("pattern", "source")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        if re.sub(r"\\[A-Za-z]", "", pattern) != re.sub(r"\\[A-Za-z]", "", pattern).lower():
            raise ValueError(f"Words pattern must be lower-case: {pattern!r}")
        self.source = pattern
        self.pattern = re.compile(merge_boundaries(pattern), flags)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text.lower())

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text.lower())


def merge_boundaries(pattern: str) -> str:
    r"""`\bsave\b|\boff\b|%|\bper\b` -> `\b(?:save\b|off\b)|%|\bper\b`: the same pattern, faster.

    `re` skips an alternative that starts with a literal after one character comparison, but
    must try one that starts with `\b` in full; with a hundred such alternatives every position
    of the text paid for a hundred attempts. Only *neighbouring* alternatives are merged, so the
    order in which alternatives are tried, and so every match, stays the same."""
    runs: list[tuple[bool, list[str]]] = []
    for branch in _top_level_branches(pattern):
        bounded = branch.startswith(r"\b")
        if bounded and runs and runs[-1][0]:
            runs[-1][1].append(branch[2:])
        else:
            runs.append((bounded, [branch[2:] if bounded else branch]))
    return "|".join(
        r"\b(?:" + "|".join(parts) + ")"
        if bounded and len(parts) > 1
        else (r"\b" + parts[0] if bounded else parts[0])
        for bounded, parts in runs
    )


def _top_level_branches(pattern: str) -> list[str]:
    """The alternatives of a pattern's outermost `|` (not those inside groups or classes)."""
    out: list[str] = []
    depth, in_class, start, i = 0, False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1
            i += pattern[i : i + 1] == "^"
            i += pattern[i : i + 1] == "]"  # "[]...]", "[^]...]": that "]" is a member
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out
