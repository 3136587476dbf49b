"""Detector thresholds: one frozen value, defaults tuned on `pricehawk synth` histories.

Operators override them for a backtest with `--config FILE` (JSON or YAML mapping of field
names); the live pipeline uses the defaults plus the currency rates from settings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_RATES: Mapping[str, float] = {"USD": 1.0}


@dataclass(frozen=True)
class DetectorConfig:
    """Every threshold the detector and the rule validator use."""

    # baseline: time-weighted median over this window (seconds) and at most max_points
    window_s: float = 30 * 86400.0
    half_life_s: float = 7 * 86400.0
    max_points: int = 60
    # fewer than this in the window: fall back to the last `short_points` regardless of age
    min_window_points: int = 3
    short_points: int = 10
    # the recent level is the median of the last `level_points` observations
    level_points: int = 3
    min_history: int = 1
    # no alert below these: a change must be at least this deep and this large (in USD)
    min_discount: float = 0.25
    min_saving_usd: float = 5.0
    # without an arithmetic signature, a drop this deep is a glitch (and worth this much)...
    extreme_discount: float = 0.78
    min_extreme_saving_usd: float = 10.0
    # ...raised by this much on a retailer's sale day (share of discounted products)
    sale_day_share: float = 0.25
    sale_day_margin: float = 0.05
    # a robust z-score below this (MAD-scaled) is needed for a signature-free alert
    min_robust_z: float = 0.0
    # signatures: relative tolerance for ratio checks (÷10, ÷100, currency, unit price)
    ratio_tolerance: float = 0.02
    currency_tolerance: float = 0.04
    # a currency mix-up must be at least this deep to count (CAD/USD at 27% is a sale)
    min_currency_discount: float = 0.5
    # a price seen before in this many separate runs (or this share of the window) is a
    # known level of the page (a variant flip-flop), not an error
    seen_runs: int = 2
    seen_share: float = 0.2
    seen_tolerance: float = 0.02
    # peers (same GTIN elsewhere): at or above this share of their median = market price
    peer_market_share: float = 0.7
    peer_glitch_share: float = 0.3
    # price steps shops use per currency (CLP 1,000; MXN 10): a digit edit is evidence only
    # when a deal could have landed on at least `min_edit_candidates` other prices
    price_grid: Mapping[str, float] = field(
        default_factory=lambda: {"CLP": 1000.0, "JPY": 10.0, "MXN": 10.0, "INR": 10.0}
    )
    min_edit_candidates: float = 80.0
    # ...and this many times more when the edit lands in the lightning-deal band of depths
    deal_band: tuple[float, float] = (0.35, 0.7)
    deal_band_edit_factor: float = 4.0
    # on a sale day many prices move at once: ask this many times more for a digit edit
    sale_day_edit_factor: float = 3.0
    # installment counts a scraper may read instead of the price ("$54.13/mo")
    installments: tuple[int, ...] = (3, 4, 6, 12, 18, 24, 36, 48, 60)
    # a figure that is n x the payment of a price we never saw counts when that price would be
    # between these shares of the reference and of the recent high (sales reach 70% off;
    # a sale ends back at the regular price)
    installment_low: float = 0.3
    installment_high: float = 1.3
    # an unseen intended price of a slip on a moving listing: within this of a recent price
    loose_slip_tolerance: float = 0.05
    # ...and only for plans up to this many payments (1/48 of some price fits any deep figure)
    unseen_installment_max: int = 36
    # currencies priced in whole units (their minor unit is 1, not 0.01)
    zero_decimal: tuple[str, ...] = ("JPY", "CLP", "KRW")
    # whole-unit currencies whose shelf prices also end one unit below the grid (MXN 1,549)
    nine_endings: tuple[str, ...] = ("MXN", "INR")
    # currencies whose figures leak onto other currencies' pages
    mixup_sources: tuple[str, ...] = ("USD", "EUR", "GBP")
    # an anomaly is recorded at or above this; the rule validator confirms at or above
    min_anomaly_confidence: float = 0.3
    confirm_confidence: float = 0.7
    rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))

    def rate(self, currency: str) -> float | None:
        """Value of one unit of `currency` in USD, when known."""
        return self.rates.get(currency.upper())


def config_from_mapping(
    data: Mapping[str, Any], base: DetectorConfig | None = None
) -> DetectorConfig:
    """A config with the given fields replaced; unknown names raise ValueError."""
    base = base or DetectorConfig()
    names = {f.name: f for f in dataclasses.fields(DetectorConfig)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"unknown detector setting {key!r}")
        if key in ("rates", "price_grid"):
            changes[key] = {str(k).upper(): float(v) for k, v in dict(value).items()}
        elif key == "installments":
            changes[key] = tuple(int(v) for v in value)
        elif key == "deal_band":
            changes[key] = (float(value[0]), float(value[1]))
        elif key in ("zero_decimal", "nine_endings", "mixup_sources"):
            changes[key] = tuple(str(v).upper() for v in value)
        else:
            current = getattr(base, key)
            changes[key] = type(current)(value)
    return dataclasses.replace(base, **changes)


def load_config(path: str | Path | None, rates: Mapping[str, Any] | None = None) -> DetectorConfig:
    """Defaults (with `rates`), overridden by a JSON or YAML file when given."""
    base = DetectorConfig()
    if rates:
        base = dataclasses.replace(base, rates={k.upper(): float(v) for k, v in rates.items()})
    if path is None:
        return base
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of detector settings")
    return config_from_mapping(data, base)
