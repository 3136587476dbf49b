"""`pricehawk synth`, `backtest` and `evaluate` end to end through the console entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pricehawk.cli.main import main


def test_synth_backtest_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "h.csv"
    assert main(["synth", str(history), "--listings", "300", "--days", "30", "--seed", "3",
                 "--glitch-rate", "0.4"]) == 0  # fmt: skip
    assert (tmp_path / "h.labels.csv").exists()
    capsys.readouterr()
    assert main(["backtest", str(history)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines, "the synthetic history holds glitches"
    assert set(lines[0]) == {"product_id", "observed_at", "price", "confidence", "glitch_type"}
    assert main(["evaluate", str(history), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] >= 0.8 and report["recall"] >= 0.8


def test_backtest_replays_rows_in_time_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"1,2025-03-0{d}T10:00:00+00:00,1299.99,,USD,,shop" for d in range(1, 7)]
    rows.append("1,2025-03-07T05:00:00-05:00,129.99,,USD,,shop")  # 10:00 UTC, listed first
    path = tmp_path / "h.csv"
    header = "product_id,observed_at,price,list_price,currency,gtin,retailer"
    path.write_text("\n".join([header, rows[-1], *reversed(rows[:-1])]) + "\n")
    assert main(["backtest", str(path)]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(o["price"], o["glitch_type"]) for o in out] == [(129.99, "decimal_slip_10")]


def test_backtest_names_a_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.csv"
    path.write_text("product_id,observed_at,price,list_price,currency,gtin,retailer\n"
                    "1,yesterday,5,,USD,,shop\n")  # fmt: skip
    assert main(["backtest", str(path)]) == 2
    assert "line 2" in capsys.readouterr().err
