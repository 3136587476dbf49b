"""`pricehawk crawl`: one crawl cycle of the configured retailers, in this process."""

from __future__ import annotations

import argparse
from typing import Any

from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("crawl", help="run one crawl cycle (Scrapy, in this process)")
    p.add_argument("--retailer", action="append", default=[], help="only these (repeatable)")
    p.add_argument("--cycle-key", default="", help="de-duplication key of this cycle")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pricehawk import db

    db.upgrade(db.database_url(settings))
    with db.connect(db.database_url(settings)) as conn:
        from pricehawk.retailers import registry, sync_retailers

        sync_retailers(conn, registry(settings))
    return crawl_in_process(settings, retailers=args.retailer, cycle_key=args.cycle_key)


def crawl_in_process(settings: Settings, *, retailers: list[str], cycle_key: str) -> int:
    """Run the catalogue spider once; the reactor cannot restart, so one call per process."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings as ScrapySettings

    import crawler.settings as crawler_settings

    scrapy_settings = ScrapySettings()
    scrapy_settings.setmodule(crawler_settings)
    scrapy_settings.set("PRICEHAWK_SETTINGS", settings)
    scrapy_settings.set("USER_AGENT", settings.user_agent)
    scrapy_settings.set("LOG_LEVEL", settings.log_level.upper())
    process = CrawlerProcess(scrapy_settings, install_root_handler=False)
    crawler = process.create_crawler("catalog")
    process.crawl(crawler, retailers=",".join(retailers), cycle_key=cycle_key)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(
        f"crawl {cycle_key or ''}: pages {stats.get('response_received_count', 0)}, "
        f"items {stats.get('item_scraped_count', 0)}",
        flush=True,
    )
    return 0 if stats.get("finish_reason") == "finished" else 1
