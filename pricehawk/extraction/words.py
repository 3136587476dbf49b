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
    """A compiled pattern whose `search`/`finditer`/`fullmatch` ignore case.

    The pattern must be written in lower case (checked when it is compiled); matches are
    against the lower-cased text, so a match's groups come back lower-cased."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: str, flags: int = 0) -> None:
        if re.sub(r"\\[A-Za-z]", "", pattern) != re.sub(r"\\[A-Za-z]", "", pattern).lower():
            raise ValueError(f"Words pattern must be lower-case: {pattern!r}")
        self.pattern = re.compile(pattern, flags)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text.lower())

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.pattern.fullmatch(text.lower())

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text.lower())
