"""The alert rules file: valid for Prometheus, every alert unit-tested by promtool, complete."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "helm" / "pricehawk" / "files" / "alerts.yaml"
PROMTOOL_TESTS = sorted((ROOT / "tests" / "ops" / "promtool").glob("*_test.yaml"))
RUNBOOK_PREFIX = "https://github.com/pricehawk/pricehawk/blob/main/docs/runbooks/"

# Issue 11, point 2: each of these must have an alert (name pattern -> what it covers).
REQUIRED = {
    "PriceHawkHighErrorRate": "error rate above 5% of requests",
    "PriceHawkScrapingFailures": "scraping failures above 20%",
    "PriceHawkQueueBacklog": "queue backlog above 100",
    "PriceHawkDatabaseConnectionFailures": "database connection failures",
    "PriceHawkTargetDown": "failing health checks",
    "PriceHawkPodsNotReady": "failing health checks (readiness probes)",
    "PriceHawkNotificationDeliveryFailures": "notification delivery failures above 10%",
    "PriceHawkBackupNotVerified": "backup not verified in 26 hours",
    "PriceHawkRetailerNotCrawled": "a retailer with no successful crawl in two cycles",
    "PriceHawkWorkerHeartbeatMissing": "the worker's heartbeat gone",
}


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules_file() -> None:
    promtool = require_tool("promtool")
    out = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in out.stdout


def test_promtool_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    assert PROMTOOL_TESTS, "no promtool tests found"
    out = subprocess.run(
        [promtool, "test", "rules", *map(str, PROMTOOL_TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAILED" not in out.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(tmp_path: Path) -> None:
    """Guards the guard: the first test case, expecting a different annotation, must fail."""
    promtool = require_tool("promtool")
    doc = yaml.safe_load(PROMTOOL_TESTS[0].read_text())
    case = doc["tests"][0]
    assert case["alert_rule_test"][-1]["alertname"] == "PriceHawkHighErrorRate"
    expected = case["alert_rule_test"][-1]["exp_alerts"][0]["exp_annotations"]
    expected["summary"] = expected["summary"].replace("10%", "11%")
    doc.update(rule_files=[str(ALERTS)], tests=[case])
    broken = tmp_path / "broken_test.yaml"
    broken.write_text(yaml.safe_dump(doc))
    out = subprocess.run(
        [promtool, "test", "rules", str(broken)], capture_output=True, text=True, check=False
    )
    assert out.returncode != 0
    assert "PriceHawkHighErrorRate" in out.stdout + out.stderr


def test_every_required_alert_exists() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    missing = {name: why for name, why in REQUIRED.items() if name not in names}
    assert not missing


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_has_severity_for_summary_and_runbook(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["labels"]["incident_type"] in {"A", "B", "C", "D", "E"}
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["runbook_url"].startswith(RUNBOOK_PREFIX)
    assert "#" in rule["annotations"]["runbook_url"]


def _tested_alerts() -> dict[str, int]:
    """{alert name: how many firing expectations} over every promtool test file."""
    fired: dict[str, int] = {}
    for path in PROMTOOL_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                name = check["alertname"]
                fired[name] = fired.get(name, 0) + len(check.get("exp_alerts") or [])
    return fired


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_alert_has_a_firing_promtool_test(rule: dict[str, Any]) -> None:
    tested = _tested_alerts()
    assert tested.get(rule["alert"], 0) > 0, f"no promtool test makes {rule['alert']} fire"


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    amtool = require_tool("amtool")  # Debian's prometheus-alertmanager
    config = ROOT / "helm" / "pricehawk" / "files" / "alertmanager.yaml"
    out = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
    broken = tmp_path / "alertmanager.yaml"
    broken.write_text(config.read_text().replace("receiver: ops-email\n", "receiver: nobody\n"))
    out = subprocess.run(
        [amtool, "check-config", str(broken)], capture_output=True, text=True, check=False
    )
    assert out.returncode != 0


def test_every_alert_routes_to_email() -> None:
    config = yaml.safe_load(
        (ROOT / "helm" / "pricehawk" / "files" / "alertmanager.yaml").read_text()
    )
    receivers = {r["name"]: r for r in config["receivers"]}
    names = [config["route"]["receiver"]] + [r["receiver"] for r in config["route"]["routes"]]
    for name in names:
        assert receivers[name]["email_configs"][0]["to"]
        assert receivers[name]["email_configs"][0]["send_resolved"] is True
