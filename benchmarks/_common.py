"""Shared set-up for benchmarks: a throwaway migrated database, never a developer's data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from pricehawk import db
from pricehawk.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def bench_server_url() -> str:
    """BENCH_DATABASE_URL (a server's maintenance database), else the embedded PostgreSQL
    under .pricehawk-bench/."""
    server = os.environ.get("BENCH_DATABASE_URL")
    if server:
        return server
    home = ROOT / ".pricehawk-bench"
    home.mkdir(exist_ok=True)
    return str(db.embedded_server(load_settings({}, home=home)).get_uri())


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (keeps ?host= for unix sockets)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextmanager
def bench_database(prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A migrated database of our own, dropped afterwards unless `keep`."""
    server = bench_server_url()
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    try:
        db.upgrade(url)
        yield url
    finally:
        if keep:
            print(f"kept database {name}: {url}")
        else:
            with psycopg.connect(server, autocommit=True) as c:
                c.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
