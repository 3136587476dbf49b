"""A long-lived crawl process for the tests: one reactor, many crawls.

Twisted's reactor cannot restart, and starting Python + Scrapy costs seconds, so instead of a
process per crawl the tests keep this one running and send it jobs: one JSON line on stdin
({"id", "env": {...}, "options": {...}}) -> one JSON line on stdout ({"id", "rc", "log"}).
Settings come from the job's environment (os.environ overlaid with "env"), exactly as
`pricehawk crawl` reads them; "log" holds the job's warnings and errors.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import traceback
from typing import Any

from scrapy.utils.reactor import install_reactor

import crawler.settings as crawler_settings

install_reactor(crawler_settings.TWISTED_REACTOR)

from twisted.internet import defer, reactor  # noqa: E402 - after the reactor is installed

from pricehawk import db  # noqa: E402
from pricehawk.cli.crawl import crawl_async  # noqa: E402
from pricehawk.retailers import registry, sync_retailers  # noqa: E402
from pricehawk.settings import load_settings  # noqa: E402


class Collect(logging.Handler):
    """Keeps the formatted warnings and errors of the running job."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    collect = Collect()
    logging.getLogger().addHandler(collect)
    try:
        settings = load_settings({**os.environ, **job.get("env", {})})
        options = job.get("options", {})
        with db.connect(db.database_url(settings)) as conn:
            sync_retailers(conn, registry(settings))
            conn.commit()
        rc = await crawl_async(
            settings,
            retailers=options.get("retailers", []),
            cycle_key=options.get("cycle", "c1"),
            distributed=options.get("distributed", False),
            worker_id=options.get("worker", ""),
            extra=options.get("extra", {}),
        )
    except Exception:  # noqa: BLE001 - reported to the test, the host serves the next job
        collect.lines.append(traceback.format_exc())
        rc = 99
    finally:
        logging.getLogger().removeHandler(collect)
    return {"id": job.get("id"), "rc": rc, "log": collect.lines}


def main() -> None:
    # The protocol owns the real stdout; stray prints (the crawl summary) go to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    faulthandler.register(signal.SIGUSR1)  # a hung host's stacks, for the failure message
    jobs: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    loop = asyncio.get_event_loop()

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(jobs.put_nowait, json.loads(line))
        loop.call_soon_threadsafe(jobs.put_nowait, None)

    async def serve() -> None:
        out.write(json.dumps({"ready": True}) + "\n")
        out.flush()
        while (job := await jobs.get()) is not None:
            out.write(json.dumps(await run_job(job)) + "\n")
            out.flush()

    threading.Thread(target=read_stdin, daemon=True).start()
    d = defer.Deferred.fromFuture(asyncio.ensure_future(serve()))
    d.addBoth(lambda _: reactor.stop())  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
