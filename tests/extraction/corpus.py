"""The fixture corpus: HTML pages whose first line is `<!-- expect {json} -->`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricehawk.extraction import ExtractionResult, SelectorConfig, extract

PAGES = Path(__file__).parent / "pages"
_EXPECT = re.compile(r"^<!-- expect (\{.*?\}) -->\n", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One corpus page and what a correct extractor reads from it."""

    name: str
    html: bytes
    expect: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.expect["url"])

    @property
    def selectors(self) -> SelectorConfig | None:
        raw = self.expect.get("selectors")
        return SelectorConfig.from_mapping(raw) if raw else None

    def run(self) -> ExtractionResult:
        return extract(self.html, self.url, selectors=self.selectors)


def load_corpus(directory: Path = PAGES) -> list[Case]:
    """Every page under `directory` (default: pages/), sorted by name."""
    cases = []
    for path in sorted(directory.glob("*.html")):
        raw = path.read_bytes()
        m = _EXPECT.match(raw.decode("utf-8", errors="replace"))
        if m is None:
            raise ValueError(f"{path.name}: missing <!-- expect {{...}} --> first line")
        cases.append(Case(path.stem, raw, json.loads(m.group(1))))
    return cases


def mismatches(case: Case, result: ExtractionResult) -> list[str]:
    """Fields where the result differs from the expectation (empty list: the page passes)."""
    exp = case.expect
    got = result.to_json_dict()
    out = []
    want_price = exp.get("price")
    if (Decimal(want_price) if want_price else None) != result.price:
        out.append(f"price: want {want_price}, got {got['price']}")
    for key in (
        "currency",
        "list_price",
        "availability",
        "sku",
        "gtin",
        "mpn",
        "brand",
        "image",
        "title",
        "method",
    ):
        if key not in exp:
            continue
        want = exp[key]
        have = got[key]
        if key == "list_price" and want is not None and have is not None:
            same = Decimal(want) == Decimal(have)
        else:
            same = want == have
        if not same:
            out.append(f"{key}: want {want!r}, got {have!r}")
    if result.ambiguous != bool(exp.get("ambiguous", False)):
        out.append(f"ambiguous: want {exp.get('ambiguous', False)}, got {result.ambiguous}")
    want_health = exp.get("health", "ok" if want_price or exp.get("ambiguous") else "no_price")
    if result.health != want_health:
        out.append(f"health: want {want_health}, got {result.health}")
    if exp.get("disagreement") and not result.disagreements:
        out.append("disagreement: want one recorded, got none")
    return out


def price_f1(pairs: list[tuple[Case, ExtractionResult]]) -> tuple[float, float, float]:
    """(precision, recall, F1) of the price over the corpus.

    A true positive is the exact expected price; a wrong price counts as a false positive *and*
    a false negative; a price on a page that has none (block page, ambiguous) is a false positive.
    """
    tp = fp = fn = 0
    for case, result in pairs:
        want = case.expect.get("price")
        want_dec = Decimal(want) if want else None
        if result.price is not None and want_dec is not None and result.price == want_dec:
            tp += 1
            continue
        if result.price is not None:
            fp += 1
        if want_dec is not None:
            fn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
