"""`pricehawk backtest`, `synth` and `evaluate`: detection quality on exported or synthetic history.

backtest HISTORY.csv [--config FILE]   one JSON line per observation the pipeline would confirm
synth OUT.csv [--listings N --days D --seed S]   a labelled hard history (labels: OUT.labels.csv)
evaluate HISTORY.csv [--labels FILE] [--config FILE]   precision/recall per glitch kind and false
                                                       alarms per hard-negative kind
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pricehawk.settings import Settings


def register(subparsers: Any) -> None:
    """Add the `backtest`, `synth` and `evaluate` commands."""
    p = subparsers.add_parser(
        "backtest",
        help="replay a price-history CSV through the detector and rule validator",
        description="Columns: product_id, observed_at (ISO 8601), price, list_price, currency,"
        " gtin, retailer[, title]; rows in any order. Prints one JSON line per confirmed glitch.",
    )
    p.add_argument("history", metavar="HISTORY.csv")
    p.add_argument("--config", metavar="FILE", help="JSON/YAML detector settings to override")
    p.set_defaults(func=run_backtest)

    s = subparsers.add_parser("synth", help="write a labelled, hard synthetic price history")
    s.add_argument("out", metavar="OUT.csv")
    s.add_argument("--listings", type=int, default=3000, help="listings (product x retailer)")
    s.add_argument("--days", type=float, default=60.0)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--glitch-rate", type=float, default=0.12, help="glitch events per listing")
    s.set_defaults(func=run_synth)

    e = subparsers.add_parser(
        "evaluate", help="backtest a synthetic history and score it against its labels"
    )
    e.add_argument("history", metavar="HISTORY.csv")
    e.add_argument("--labels", metavar="FILE", help="default: HISTORY.labels.csv")
    e.add_argument("--config", metavar="FILE")
    e.add_argument("--json", action="store_true", help="print the summary as JSON instead")
    e.set_defaults(func=run_evaluate)


def _config(args: argparse.Namespace, settings: Settings) -> Any:
    from pricehawk.detection.config import load_config

    return load_config(args.config, rates=settings.currency_rates)


def run_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Replay the history; print confirmed glitches as JSON lines and a summary on stderr."""
    from pricehawk.detection.replay import HistoryError, read_history, replay

    try:
        config = _config(args, settings)
        started = time.perf_counter()
        rows = read_history(args.history)
    except (OSError, ValueError) as exc:
        print(f"pricehawk backtest: {exc}", file=sys.stderr)
        return 2
    except HistoryError as exc:  # pragma: no cover - HistoryError is a ValueError
        print(f"pricehawk backtest: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    found = 0
    for finding in replay(rows, config):
        out.write(json.dumps(finding.as_json()) + "\n")
        found += 1
    elapsed = time.perf_counter() - started
    print(
        f"backtest: {len(rows)} observations, {found} glitches, {elapsed:.1f} s"
        f" ({len(rows) / max(elapsed, 1e-9):,.0f} obs/s)",
        file=sys.stderr,
    )
    return 0


def run_synth(args: argparse.Namespace, settings: Settings) -> int:
    """Write the history and its labels next to it."""
    from pricehawk.detection.synth import SynthConfig, labels_path, write

    out = Path(args.out)
    labels = labels_path(out)
    cfg = SynthConfig(
        listings=args.listings, days=args.days, seed=args.seed, glitch_rate=args.glitch_rate
    )
    rows, events = write(cfg, out, labels)
    print(f"wrote {rows} observations with {events} glitch events to {out} (labels: {labels})")
    return 0


def run_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Backtest in-process and print the quality table."""
    from pricehawk.detection.evaluate import evaluate
    from pricehawk.detection.replay import read_history, replay
    from pricehawk.detection.synth import labels_path

    history = Path(args.history)
    labels = Path(args.labels) if args.labels else labels_path(history)
    try:
        config = _config(args, settings)
        rows = read_history(history)
        report = evaluate(labels, replay(rows, config))
    except (OSError, ValueError, KeyError) as exc:
        print(f"pricehawk evaluate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print("\n".join(report.table()))
    return 0
