"""Run one crawl in a fresh process (Twisted's reactor cannot restart): settings from the
environment, Scrapy overrides from argv[1] as JSON."""

from __future__ import annotations

import json
import logging
import sys

from pricehawk import db
from pricehawk.cli.crawl import crawl_in_process
from pricehawk.retailers import registry, sync_retailers
from pricehawk.settings import load_settings


def main() -> int:
    options = json.loads(sys.argv[1])
    settings = load_settings()
    logging.basicConfig(level="WARNING")
    with db.connect(db.database_url(settings)) as conn:
        sync_retailers(conn, registry(settings))
        conn.commit()
    return crawl_in_process(
        settings,
        retailers=options.get("retailers", []),
        cycle_key=options.get("cycle", "c1"),
        distributed=options.get("distributed", False),
        worker_id=options.get("worker", ""),
        extra=options.get("extra", {}),
    )


if __name__ == "__main__":
    sys.exit(main())
