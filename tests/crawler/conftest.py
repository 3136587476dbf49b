"""Helpers for crawler tests: crawl subprocesses against the served demo shop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pricehawk.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FAST = {"PRICEHAWK_RETRY_BASE_S": 0.05, "PRICEHAWK_RETRY_CAP_S": 0.2, "LOG_LEVEL": "WARNING"}


def crawl_env(settings: Settings, retailers_dir: Path | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "PRICEHAWK_REDIS_PREFIX": settings.redis_prefix,
        "PRICEHAWK_DEMO_SHOP_URL": settings.demo_shop_url,
        "PRICEHAWK_HOME": str(settings.home),
        "PRICEHAWK_LOG_LEVEL": "WARNING",
    }
    if retailers_dir is not None:
        env["PRICEHAWK_RETAILERS_DIR"] = str(retailers_dir)
    return env


def start_crawl(settings: Settings, retailers_dir: Path | None = None, **options: Any) -> Any:
    options["extra"] = {**FAST, **options.get("extra", {})}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crawler.runner", json.dumps(options)],
        env=crawl_env(settings, retailers_dir),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_crawl(settings: Settings, retailers_dir: Path | None = None, **options: Any) -> str:
    proc = start_crawl(settings, retailers_dir, **options)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"crawl failed ({proc.returncode}):\n{out}\n{err[-4000:]}"
    return out + err


def write_retailer(directory: Path, slug: str = "acme", **fields: Any) -> Path:
    """A retailers dir with one demo retailer, fields overridden."""
    source = (ROOT / "crawler" / "retailers" / f"{slug}.yaml").read_text()
    import yaml

    data = yaml.safe_load(source)
    data.update(fields)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{slug}.yaml").write_text(yaml.safe_dump(data))
    return directory


@pytest.fixture()
def crawl_settings(shop_settings: Settings) -> Settings:
    return shop_settings
