"""Helpers for crawler tests: crawls in long-lived host processes against the served demo shop."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pricehawk.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FAST = {"PRICEHAWK_RETRY_BASE_S": 0.05, "PRICEHAWK_RETRY_CAP_S": 0.2, "LOG_LEVEL": "WARNING"}


def crawl_env(settings: Settings, retailers_dir: Path | None = None) -> dict[str, str]:
    """The environment a crawl reads its settings from (on top of this process's own)."""
    env = {
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


class CrawlHost:
    """One `tests.crawler.host` process: crawls run one after another in its reactor."""

    def __init__(self) -> None:
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the host
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crawler.host"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.ready = False
        self.jobs = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _line(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.kill()
            self.log.seek(0)
            raise AssertionError(f"crawl host died or hung:\n{self.log.read()[-4000:]}")
        return dict(json.loads(line))

    def submit(self, settings: Settings, retailers_dir: Path | None = None, **options: Any) -> int:
        """Send one crawl; returns its job id (`result` waits for it)."""
        if not self.ready:
            assert self._line(120).get("ready")
            self.ready = True
        self.jobs += 1
        options["extra"] = {**FAST, **options.get("extra", {})}
        job = {"id": self.jobs, "env": crawl_env(settings, retailers_dir), "options": options}
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return self.jobs

    def result(self, job: int, timeout: float = 120) -> dict[str, Any]:
        """The job's outcome: {"rc", "log"} (log: its warnings and errors)."""
        answer = self._line(timeout)
        assert answer["id"] == job, answer
        return answer

    def kill(self) -> None:
        """SIGKILL: no clean exit, as a worker killed by the OOM killer or a node loss."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class CrawlHosts:
    """The session's crawl hosts: one for ordinary crawls, spares started ahead of time for
    tests that kill theirs (so nobody waits for a Python + Scrapy start)."""

    def __init__(self) -> None:
        self.main = CrawlHost()
        self.spares = [CrawlHost()]
        self.used: list[CrawlHost] = []

    def start(self, settings: Settings, retailers_dir: Path | None = None, **options: Any) -> int:
        """Send one crawl to the main host; `finish` waits for it."""
        if self.main.proc.poll() is not None:
            self.main = CrawlHost()
        return self.main.submit(settings, retailers_dir, **options)

    def finish(self, job: int) -> str:
        """Wait for a crawl, assert it finished; returns its warnings and errors."""
        try:
            outcome = self.main.result(job)
        except AssertionError:
            self.main = CrawlHost()  # the next test gets a working host
            raise
        log = "\n".join(outcome["log"])
        assert outcome["rc"] == 0, f"crawl failed ({outcome['rc']}):\n{log[-4000:]}"
        return log

    def run(self, settings: Settings, retailers_dir: Path | None = None, **options: Any) -> str:
        """One crawl in the main host (see `finish`)."""
        return self.finish(self.start(settings, retailers_dir, **options))

    def spare(self) -> CrawlHost:
        """A started host of the caller's own (kill it or leave it: the session closes it)."""
        host = self.spares.pop() if self.spares else CrawlHost()
        self.used.append(host)
        return host

    def close(self) -> None:
        for host in [self.main, *self.spares, *self.used]:
            host.close()


_booting: list[CrawlHosts] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the crawl hosts as soon as we know a collected test needs them, so they boot
    while the template database is migrated and the first tests run."""
    if any("crawl_hosts" in getattr(item, "fixturenames", ()) for item in session.items):
        _booting.append(CrawlHosts())


@pytest.fixture(scope="session")
def crawl_hosts() -> Iterator[CrawlHosts]:
    hosts = _booting.pop() if _booting else CrawlHosts()
    yield hosts
    hosts.close()


def write_retailer(
    directory: Path, slug: str = "acme", shop_url: str | None = None, **fields: Any
) -> Path:
    """Write one demo retailer's YAML into `directory` (fields overridden; with `shop_url`,
    on that shop instead of PRICEHAWK_DEMO_SHOP_URL's); returns the directory."""
    import yaml

    source = (ROOT / "crawler" / "retailers" / f"{slug}.yaml").read_text()
    if shop_url is not None:
        source = source.replace("{demo_shop}", shop_url)
        source = source.replace("{demo_shop_host}", urlsplit(shop_url).netloc)
    data = yaml.safe_load(source)
    data.update(fields)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{slug}.yaml").write_text(yaml.safe_dump(data))
    return directory


@pytest.fixture()
def second_shop() -> Iterator[Any]:
    """Another demo shop on its own port (a site with its own robots.txt and bans)."""
    from sandbox.demo_shop import ShopServer

    server = ShopServer().start()
    yield server
    server.stop()
