"""Shared fixtures: real PostgreSQL and Redis, never a developer's own data.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL when set (CI hands the machine's services over
that way), else embedded ones under .pricehawk-test/ (never PRICEHAWK_HOME).
Isolation: a migrated template database per test session; `conn` gives an in-process test
one transaction that is rolled back; `db_url` gives a test its own database cloned from the
template (for pools, subprocesses, racing workers); every test gets its own Redis key prefix.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from pricehawk import db
from pricehawk.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = ROOT / ".pricehawk-test"
ARTIFACTS = ROOT / "artifacts"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """A URL to the test PostgreSQL server's maintenance database."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    TEST_HOME.mkdir(exist_ok=True)
    settings = load_settings({}, home=TEST_HOME)
    return str(db.embedded_server(settings).get_uri())


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(stmt)
    return _with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    """Name of a database migrated to head, used as the template of per-test databases."""
    name = f"ph_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_server_url, name)
    db.upgrade(url)
    yield name
    drop_database(pg_server_url, name)


@pytest.fixture()
def db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own (dropped afterwards)."""
    name = f"ph_t_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name, template=template_db)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def shared_db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """One migrated database for the session's rolled-back in-process tests."""
    name = f"ph_s_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_server_url, name, template=template_db)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture()
def conn(shared_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside a transaction that is rolled back after the test."""
    with db.connect(shared_db_url) as connection:
        yield connection
        connection.rollback()


@pytest.fixture()
def pool(db_url: str) -> Iterator[Any]:
    """A connection pool on this test's own database."""
    p = db.make_pool(db_url, min_size=1, max_size=4)
    yield p
    p.close()


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        return url
    from pricehawk.redis_conn import redis_url

    TEST_HOME.mkdir(exist_ok=True)
    return redis_url(load_settings({}, home=TEST_HOME))


@pytest.fixture()
def settings(tmp_path: Path, db_url: str, redis_server_url: str) -> Iterator[Settings]:
    """Settings for this test: its own database, home folder and Redis key prefix."""
    prefix = f"pricehawk-test-{uuid.uuid4().hex[:10]}:"
    s = load_settings(
        {},
        home=tmp_path / "home",
        database_url=db_url,
        redis_url=redis_server_url,
        redis_prefix=prefix,
        secret_key="test-secret-key-not-for-production",
    )
    yield s
    import redis

    client = redis.Redis.from_url(redis_server_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture()
def demo_shop() -> Iterator[Any]:
    """The sandbox demo shop, served on a free loopback port."""
    from sandbox.demo_shop import ShopServer

    server = ShopServer().start()
    yield server
    server.stop()


@pytest.fixture()
def shop_settings(settings: Settings, demo_shop: Any) -> Settings:
    """Settings whose retailer registry points at the running demo shop."""
    return dataclasses.replace(settings, demo_shop_url=demo_shop.url)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Git-ignored folder for screenshots and reports."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def require_tool(name: str, path: str | None = None) -> str:
    """The tool's path; in CI a missing tool fails the test, elsewhere it skips with a reason."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI but was not found (.ci/run installs it)")
    pytest.skip(f"{name} is not installed (apt-get install it to run this test)")
