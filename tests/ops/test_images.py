"""Dockerfiles (hadolint), what goes into the images, and that the chart's commands are
commands our CLI accepts."""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from pricehawk.cli.main import build_parser
from tests.conftest import require_tool
from tests.ops.test_chart import PROD, of_kind, render

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "airflow.Dockerfile"]
VENV_HADOLINT = ROOT / ".venv" / "bin" / "hadolint"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    tool = require_tool("hadolint", str(VENV_HADOLINT))
    return subprocess.run(
        [tool, "--no-color", str(path)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    out = hadolint(dockerfile)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_catches_a_root_image_with_apt_cache(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.11-slim-bookworm\nRUN apt-get update && apt-get install -y chromium\n"
        "RUN pip install flask\n"
    )
    out = hadolint(bad)
    assert out.returncode != 0
    assert "DL3015" in out.stdout  # --no-install-recommends
    assert "DL3013" in out.stdout  # unpinned pip


def stages(path: Path) -> dict[str, list[str]]:
    """{stage name: its instructions}, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    found: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            parts = line.split()
            current = parts[3] if len(parts) > 3 and parts[2].upper() == "AS" else "final"
            found[current] = []
        if current:
            found[current].append(line)
    return found


@pytest.mark.parametrize(("path", "stage"), [
    (DOCKER / "Dockerfile", "app"),
    (DOCKER / "Dockerfile", "crawler"),
    (DOCKER / "airflow.Dockerfile", "final"),
])  # fmt: skip
def test_images_run_as_a_non_root_user(path: Path, stage: str) -> None:
    users = [line.split()[1] for line in stages(path)[stage] if line.startswith("USER ")]
    assert users, f"{path.name}:{stage} sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_app_image_user_is_the_charts_run_as_user() -> None:
    values = yaml.safe_load((ROOT / "helm" / "pricehawk" / "values.yaml").read_text())
    uid = str(values["podSecurityContext"]["runAsUser"])
    for stage in ("app", "crawler"):
        lines = stages(DOCKER / "Dockerfile")[stage]
        users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
        assert users[-1].split(":")[0] == uid


def test_images_install_the_right_extras_and_the_crawler_gets_debian_chromium() -> None:
    built = stages(DOCKER / "Dockerfile")
    app = " ".join(built["app"])
    crawler = " ".join(built["crawler"])
    assert '-e ".[portal,console]"' in app
    assert '-e ".[crawler]"' in crawler
    assert "apt-get install -y --no-install-recommends chromium" in crawler
    assert "playwright install" not in crawler
    airflow = " ".join(stages(DOCKER / "airflow.Dockerfile")["final"])
    assert '".[airflow,crawler]"' in airflow
    assert "apache-airflow==${AIRFLOW_VERSION}" in airflow


def test_every_package_of_the_project_is_copied_into_the_images() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    # sql/ and dags/ are read from the source tree (not packaged), so they are copied too.
    needed = packages | {"sql", "dags", "pyproject.toml", "README.md"}
    for path in DOCKERFILES:
        copied = {line.split()[-2].rstrip("/") for line in path.read_text().splitlines()
                  if line.startswith("COPY ") and "--from" not in line}  # fmt: skip
        copied |= {w for line in path.read_text().splitlines() if line.startswith("COPY ")
                   for w in line.split()[1:-1]}  # fmt: skip
        assert needed <= copied, f"{path.name} misses {needed - copied}"
        ignore = (DOCKER / f"{path.name}.dockerignore").read_text().splitlines()
        for name in needed:
            assert f"!{name}/" in ignore or f"!{name}" in ignore, (path.name, name)
            assert (ROOT / name).exists(), name


def test_constraints_pin_every_dependency() -> None:
    lines = [ln for ln in (DOCKER / "constraints.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]  # fmt: skip
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^\s=]+", ln) for ln in lines), [
        ln for ln in lines if "==" not in ln
    ]
    pinned = {ln.split("==")[0].lower() for ln in lines}
    assert {"apache-airflow", "scrapy", "flask", "streamlit", "psycopg"} <= pinned
    assert "pricehawk" not in pinned


def test_image_names_agree_between_dockerfiles_chart_and_airflow_values() -> None:
    values = yaml.safe_load((ROOT / "helm" / "pricehawk" / "values.yaml").read_text())
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert f"-t {values['image']['repository']}:TAG" in dockerfile
    assert f"-t {values['crawlerImage']['repository']}:TAG" in dockerfile
    airflow = yaml.safe_load((ROOT / "helm" / "airflow-values.yaml").read_text())
    repo = airflow["images"]["airflow"]["repository"]
    assert f"-t {repo}:TAG" in (DOCKER / "airflow.Dockerfile").read_text()
    version = re.search(r"ARG AIRFLOW_VERSION=(\S+)", (DOCKER / "airflow.Dockerfile").read_text())
    assert version and airflow["airflowVersion"] == version.group(1)


def test_airflow_values_use_our_image_dags_postgres_and_redis() -> None:
    airflow = yaml.safe_load((ROOT / "helm" / "airflow-values.yaml").read_text())
    assert airflow["postgresql"]["enabled"] is False
    assert airflow["redis"]["enabled"] is False
    assert airflow["data"]["metadataSecretName"] and airflow["data"]["brokerUrlSecretName"]
    assert airflow["dags"]["gitSync"]["enabled"] is False
    dags_folder = airflow["config"]["core"]["dags_folder"]
    assert (
        f"AIRFLOW__CORE__DAGS_FOLDER={dags_folder}" in (DOCKER / "airflow.Dockerfile").read_text()
    )
    refs = yaml.safe_load(airflow["extraEnvFrom"])
    chart = render()
    assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} <= set(
        of_kind(chart, "ConfigMap")
    )
    assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} <= set(
        of_kind(chart, "Secret")
    )


def _container_commands() -> list[tuple[str, list[str], list[str]]]:
    values: dict[str, Any] = copy.deepcopy(PROD)
    values["portal"]["trustedProxy"] = "10.0.0.1"
    out = []
    for obj in render(values, is_install=True):
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            out.append((obj["metadata"]["name"], container.get("command", []), container["args"]))
    return out


@pytest.mark.parametrize(
    ("name", "command", "args"), _container_commands(), ids=lambda v: str(v)[:30]
)
def test_chart_commands_are_valid_pricehawk_commands(
    name: str, command: list[str], args: list[str]
) -> None:
    if command:  # `python -m MODULE`: the module must exist and have its main()
        import importlib

        assert command[:2] == ["python", "-m"] and not args, name
        assert callable(importlib.import_module(command[2]).main), name
        return
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"{name}: `pricehawk {shlex.join(args)}` is rejected by the CLI")
    assert parsed.func, name
