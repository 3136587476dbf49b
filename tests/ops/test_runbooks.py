"""Runbooks: every alert's link lands on a heading, every link between runbooks resolves, and
every `pricehawk ...` command they tell an operator to type is one the CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from pricehawk.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
ALERTS = ROOT / "helm" / "pricehawk" / "files" / "alerts.yaml"
PREFIX = "https://github.com/pricehawk/pricehawk/blob/main/docs/runbooks/"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,6} (.+)", line)):
            found.add(slug(m.group(1)))
    return found


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("High error rate", "high-error-rate"),
        ("Type A — application errors", "type-a--application-errors"),
        ("Roll back the app", "roll-back-the-app"),
        ("What's `pricehawk db`?", "whats-pricehawk-db"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def alert_links() -> list[tuple[str, str]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [
        (rule["alert"], rule["annotations"]["runbook_url"])
        for group in doc["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


@pytest.mark.parametrize(("alert", "url"), alert_links(), ids=lambda v: str(v).split("/")[-1])
def test_every_runbook_url_points_at_a_heading(alert: str, url: str) -> None:
    assert url.startswith(PREFIX), url
    page, _, anchor = url[len(PREFIX) :].partition("#")
    path = RUNBOOKS / page
    assert path.is_file(), f"{alert}: {page} does not exist"
    assert anchor in anchors(path), f"{alert}: no heading #{anchor} in {page}"
    # the index lists the alert with the same section
    assert f"{page}#{anchor}" in (RUNBOOKS / "README.md").read_text(), alert


def test_relative_links_between_runbooks_resolve() -> None:
    broken = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if target.startswith("http"):
                continue
            page, _, anchor = target.partition("#")
            dest = RUNBOOKS / page if page else path
            if not dest.is_file() or (anchor and anchor not in anchors(dest)):
                broken.append(f"{path.name} -> {target}")
    assert not broken


def test_each_incident_type_and_procedure_has_its_runbook() -> None:
    expected = {
        "application-errors.md": "# Type A",
        "worker-failures.md": "# Type B",
        "database.md": "# Type C",
        "external-services.md": "# Type D",
        "performance.md": "# Type E",
    }
    for name, title in expected.items():
        assert (RUNBOOKS / name).read_text().startswith(title), name
    assert {"roll-back-the-app", "roll-back-a-migration"} <= anchors(RUNBOOKS / "rollback.md")
    assert "restore-from-backup" in anchors(RUNBOOKS / "backup-restore.md")
    assert "pricehawk db downgrade" in (RUNBOOKS / "rollback.md").read_text()
    assert "pricehawk db restore" in (RUNBOOKS / "backup-restore.md").read_text()
    assert "pricehawk smoke https://" in (RUNBOOKS / "deploy.md").read_text()


def runbook_commands() -> list[tuple[str, str]]:
    """(file, the arguments after `pricehawk`) for each pricehawk command in a runbook."""
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    found = []
    for path in sorted([*RUNBOOKS.glob("*.md"), ROOT / "docs" / "operations.md"]):
        if not path.exists():
            continue
        names = "|".join(sorted(subcommands))
        for m in re.finditer(rf"\bpricehawk ((?:{names})\b[^\n`'|)]*)", path.read_text()):
            found.append((path.name, m.group(1).strip().rstrip(".,;:")))
    return found


def test_runbooks_name_pricehawk_commands() -> None:
    assert len(runbook_commands()) >= 15


@pytest.mark.parametrize(("page", "args"), runbook_commands(), ids=lambda v: str(v)[:40])
def test_runbook_commands_parse(page: str, args: str) -> None:
    """The CLI accepts the command as written (placeholders in capitals stand for values)."""
    parser = build_parser()
    try:
        parsed = parser.parse_args(shlex.split(args.replace("\\", "")))
    except SystemExit as exc:  # argparse reports and exits on a bad command line
        pytest.fail(f"{page}: `pricehawk {args}` is not a valid command ({exc})")
    assert getattr(parsed, "func", None), f"{page}: `pricehawk {args}` runs nothing"
