"""Score backtest findings against `pricehawk synth` labels (`pricehawk evaluate`).

Quality is judged over glitch *events* (one mistyped price that may stay up for several
crawls): an event is caught when any of its observations is confirmed. Every confirmed
observation outside a glitch event is a false alarm, counted by the hard-negative kind of
the episode it fell in ("normal" when none). Errors the generator marks as unverifiable (no
one could tell them from the data at that moment) count neither way; their alerts are shown.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pricehawk.detection.replay import Finding, _epoch
from pricehawk.detection.synth import UNVERIFIABLE


@dataclass
class Report:
    events: Counter[str] = field(default_factory=Counter)  # glitch kind -> events
    caught: Counter[str] = field(default_factory=Counter)  # glitch kind -> caught events
    negatives: Counter[str] = field(default_factory=Counter)  # label -> observations
    false_alarms: Counter[str] = field(default_factory=Counter)  # label -> false alarms
    repeats: int = 0  # confirmations of an already-caught event (one alert per event is ideal)
    typed_right: int = 0  # caught events whose first confirmed type names the planted kind
    unverifiable: int = 0  # observations of errors no one could tell at the time
    unverifiable_alerts: int = 0  # ...that were confirmed anyway (neither right nor wrong)

    @property
    def tp(self) -> int:
        return sum(self.caught.values())

    @property
    def fp(self) -> int:
        return sum(self.false_alarms.values())

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        total = sum(self.events.values())
        return self.tp / total if total else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def table(self) -> list[str]:
        """The report as aligned text lines."""
        lines = [f"{'glitch kind':<22}{'events':>8}{'caught':>8}{'recall':>9}"]
        for kind in sorted(self.events):
            ev, ca = self.events[kind], self.caught[kind]
            lines.append(f"{kind:<22}{ev:>8}{ca:>8}{ca / ev if ev else 1:>9.3f}")
        lines.append("")
        lines.append(f"{'hard negative':<22}{'obs':>8}{'alarms':>8}{'per 10k':>9}")
        for label in sorted(self.negatives):
            obs, fa = self.negatives[label], self.false_alarms[label]
            lines.append(f"{label:<22}{obs:>8}{fa:>8}{fa / obs * 1e4 if obs else 0:>9.2f}")
        lines.append(
            f"{UNVERIFIABLE:<22}{self.unverifiable:>8}{self.unverifiable_alerts:>8}  (not scored)"
        )
        lines.append("")
        lines.append(
            f"events {sum(self.events.values())}  caught {self.tp}  false alarms {self.fp}"
            f"  repeat alerts {self.repeats}  type named right {self.typed_right}/{self.tp}"
        )
        lines.append(f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}")
        return lines

    def as_dict(self) -> dict[str, object]:
        """Machine-readable summary."""
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "events": dict(self.events),
            "caught": dict(self.caught),
            "false_alarms": dict(self.false_alarms),
            "repeats": self.repeats,
            "unverifiable": self.unverifiable,
            "unverifiable_alerts": self.unverifiable_alerts,
        }


_SAME_KIND = {
    "decimal_slip_10": {"decimal_slip_10"},
    "decimal_slip_100": {"decimal_slip_100"},
    "unit_price": {"unit_price"},
    "wrong_currency": {"wrong_currency"},
    "dropped_digit": {"dropped_digit"},
    "swapped_digits": {"swapped_digits"},
}


def evaluate(labels_file: str | Path, findings: Iterable[Finding]) -> Report:
    """Compare confirmed observations with the labels of the same history."""
    labels: dict[tuple[str, float], tuple[str, str]] = {}
    report = Report()
    events: dict[str, str] = {}
    with Path(labels_file).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for line, rec in enumerate(reader, start=2):
            key = (rec["product_id"], _epoch(rec["observed_at"], line))
            labels[key] = (rec["label"], rec["event_id"])
            if rec["event_id"]:
                events[rec["event_id"]] = rec["label"]
            elif rec["label"] == UNVERIFIABLE:
                report.unverifiable += 1
            else:
                report.negatives[rec["label"]] += 1
    report.events.update(events.values())
    caught: set[str] = set()
    for finding in sorted(findings, key=lambda x: x.epoch):
        label, event_id = labels.get((finding.product_id, finding.epoch), ("unlabelled", ""))
        if label == UNVERIFIABLE:
            report.unverifiable_alerts += 1
            continue
        if not event_id:
            report.false_alarms[label] += 1
            continue
        if event_id in caught:
            report.repeats += 1
            continue
        caught.add(event_id)
        report.caught[label] += 1
        if finding.anomaly.glitch_type in _SAME_KIND.get(label, {finding.anomaly.glitch_type}):
            report.typed_right += 1
    return report
