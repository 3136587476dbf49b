"""Backtest throughput (observations/s) against a vectorised numpy rolling median/MAD.

Both run in the same process on the same synthetic history (`pricehawk synth`, parsed once):
ours is `replay()` — the live detector plus the rule validator, with every check; the baseline
is the bare statistic (median and MAD of the previous `max_points` = 60 prices per listing —
the detector's own window — and a z-score cut) over a sliding-window view. An earlier
version used 20 prices, a cheaper statistic than the detector's; it is printed too.
Run:  .venv/bin/python benchmarks/bench_detect.py [--listings N]
The last line is machine-readable; keep the ratio above 0.25.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pricehawk.detection.replay import read_history, replay  # noqa: E402
from pricehawk.detection.service import default_config  # noqa: E402
from pricehawk.detection.synth import SynthConfig, labels_path, write  # noqa: E402


def numpy_baseline(pids: np.ndarray, prices: np.ndarray, window: int) -> int:
    """Rolling median/MAD of the previous `window` prices per listing; count of z < -6."""
    windows = sliding_window_view(prices, window)[:-1]
    same = pids[window:] == pids[:-window]  # the whole window belongs to one listing
    med = np.median(windows, axis=1)
    mad = np.median(np.abs(windows - med[:, None]), axis=1)
    z = (prices[window:] - med) / (1.4826 * mad + 1e-9)
    return int(np.count_nonzero((z < -6) & same))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.csv"
        write(SynthConfig(listings=args.listings), path, labels_path(path))
        started = time.perf_counter()
        rows = read_history(path)
        parse_s = time.perf_counter() - started
    config = default_config()
    order = np.lexsort((np.array(rows.at), np.array(rows.pid)))
    pids = np.array(rows.pid)[order]
    prices = np.array(rows.price)[order]
    n = len(rows)
    window = config.max_points
    ours, base, short = [], [], []
    for _ in range(args.rounds):  # interleaved: the machine is shared and noisy
        t = time.perf_counter()
        found = sum(1 for _ in replay(rows, config))
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        numpy_baseline(pids, prices, window)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        numpy_baseline(pids, prices, 20)
        short.append(time.perf_counter() - t)
    ours_rate, base_rate = n / min(ours), n / min(base)
    print(f"{n} observations, {found} confirmed glitches; CSV parse {parse_s:.1f} s")
    print(
        f"replay {min(ours):.2f} s, numpy rolling median/MAD over {window} prices"
        f" {min(base):.2f} s (over 20 prices {min(short):.2f} s, ratio"
        f" {min(short) / min(ours):.2f})"
    )
    print(
        f"backtest throughput: {ours_rate:,.0f} obs/s (baseline {base_rate:,.0f} obs/s,"
        f" ratio {ours_rate / base_rate:.2f})"
    )


if __name__ == "__main__":
    main()
