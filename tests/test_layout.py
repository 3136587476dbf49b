"""The layout rules that keep the domain framework-free and the docs complete."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pricehawk.cli.main import build_parser
from pricehawk.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"flask", "scrapy", "airflow", "streamlit", "twisted", "scrapy_redis", "portal",
              "crawler", "ops_console", "dags"}  # fmt: skip


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = ast.iter_child_nodes(tree) if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "pricehawk").rglob("*.py") if "cli" not in p.parts)
)
def test_domain_imports_no_framework(path: Path) -> None:
    used = _imports(ast.parse(path.read_text()), top_level_only=False) & FRAMEWORKS
    assert not used, f"{path.relative_to(ROOT)} imports {sorted(used)}"


@pytest.mark.parametrize("path", sorted((ROOT / "pricehawk" / "cli").glob("*.py")))
def test_cli_starts_apps_lazily(path: Path) -> None:
    used = _imports(ast.parse(path.read_text()), top_level_only=True) & FRAMEWORKS
    assert not used, f"{path.relative_to(ROOT)} imports {sorted(used)} at import time"


def test_readme_lists_every_setting_and_command() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing, f"README.md does not document {missing}"
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = list(getattr(sub, "choices", {}))
    assert commands
    undocumented = [c for c in commands if f"pricehawk {c}" not in readme and c not in readme]
    assert not undocumented, f"README.md does not list {undocumented}"
