"""A killed worker and a restarted database lose no price."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from pricehawk import db
from pricehawk.crawl.queue import queue_cycle, queue_depth
from pricehawk.redis_conn import connect_redis
from pricehawk.retailers import registry, sync_retailers
from pricehawk.settings import Settings
from tests.crawler.conftest import CrawlHosts, write_retailer


def _priced_products(url: str) -> int:
    with db.connect(url) as c:
        row = c.execute("SELECT count(DISTINCT product_id) AS n FROM price_observations").fetchone()
    assert row is not None
    return int(row["n"])


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _slow_acme(shop_settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    retailers = write_retailer(tmp_path / "retailers", download_delay_s=0.15)
    return dataclasses.replace(shop_settings, retailers_dir=str(retailers)), retailers


@pytest.mark.slow
def test_killed_worker_requests_are_fetched_by_another(
    shop_settings: Settings, demo_shop: Any, crawl_hosts: CrawlHosts, tmp_path: Path
) -> None:
    settings, retailers = _slow_acme(shop_settings, tmp_path)
    with db.connect(settings.database_url) as c:
        sync_retailers(c, registry(settings))
        c.commit()
    assert queue_cycle(settings, "acme", "k1") == 3
    beat = {"PRICEHAWK_HEARTBEAT_S": 0.3}
    a = crawl_hosts.spare()
    a.submit(settings, retailers, distributed=True, worker="a", cycle="k1", extra=beat)
    _wait_for(lambda: sum("/product/" in p for p in demo_shop.shop.paths) >= 3)
    a.kill()  # SIGKILL, no clean exit: its in-flight requests stay in Redis
    killed_at = len(demo_shop.shop.paths)
    crawl_hosts.run(settings, retailers, distributed=True, worker="b", cycle="k1", extra=beat)
    assert _priced_products(settings.database_url) == 12
    assert any("/product/" in p for p in demo_shop.shop.paths[killed_at:])  # b took a's work
    assert queue_depth(connect_redis(settings), settings) == 0


class CuttableTcpProxy:
    """Loopback TCP forwarder to PostgreSQL that can be cut (as a restart looks to clients)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.conns: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.close()

    def cut(self) -> None:
        self.up.clear()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.conns = []

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.slow
def test_database_restart_mid_crawl_loses_no_item(
    shop_settings: Settings, demo_shop: Any, crawl_hosts: CrawlHosts, tmp_path: Path
) -> None:
    settings, retailers = _slow_acme(shop_settings, tmp_path)
    parts = urlsplit(settings.database_url)
    if not parts.hostname:
        pytest.skip("the test database listens on a Unix socket; this test cuts a TCP link")
    proxy = CuttableTcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        netloc = (
            f"{parts.username}@127.0.0.1:{proxy.port}"
            if parts.username
            else (f"127.0.0.1:{proxy.port}")
        )
        via_proxy = urlunsplit(parts._replace(netloc=netloc))
        job = crawl_hosts.start(dataclasses.replace(settings, database_url=via_proxy), retailers)
        _wait_for(lambda: sum("/product/" in p for p in demo_shop.shop.paths) >= 2)
        proxy.cut()  # every connection drops, new ones are refused... for a second and a half
        time.sleep(1.5)
        proxy.restore()
        log = crawl_hosts.finish(job)
        assert "database unavailable" in log
    finally:
        proxy.close()
    assert _priced_products(settings.database_url) == 12
