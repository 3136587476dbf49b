"""One distributed worker fed through the shared Redis queue against the same spider fed from a
local list, on the same product pages (extraction and database writes in both). Also reports
two workers against one. Figure: product pages per second, ratio Redis-fed / list-fed."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _crawlbench import ROOT, ShopProcess, bench_database, bench_settings


def role(kind: str, config: dict[str, Any]) -> None:
    """Run inside a child process: one crawl, print items and elapsed seconds as JSON."""
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.catalog import CatalogSpider
    from pricehawk.cli.crawl import scrapy_settings_for

    settings = bench_settings(config["db"], config["shop"], Path(config["home"]))
    settings = __import__("dataclasses").replace(settings, redis_prefix=config["prefix"])

    class ListSpider(CatalogSpider):
        name = "catalog"

        async def start(self) -> Any:
            if self.distributed:
                return
            for url in config["urls"]:
                r = self.by_slug[url.split("/")[3]]
                yield self.request(url, "parse_product", r)

    s = scrapy_settings_for(
        settings,
        cycle_key=config["cycle"],
        distributed=kind == "worker",
        extra={"LOG_LEVEL": "ERROR", "PRICEHAWK_HEARTBEAT_S": 0.5},
    )
    s.set("LOG_INSTALL_ROOT_HANDLER", False)
    process = CrawlerProcess(s)
    c = process.create_crawler(ListSpider)
    process.crawl(c, cycle_key=config["cycle"], distributed=kind == "worker")
    process.start()
    stats = c.stats.get_stats()
    print(json.dumps({
        "items": stats.get("item_scraped_count", 0),
        "elapsed": (stats["finish_time"] - stats["start_time"]).total_seconds(),
        "start": stats["start_time"].timestamp(),
        "end": stats["finish_time"].timestamp(),
    }))  # fmt: skip


def spawn(kind: str, config: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", kind, "--config", json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=600)
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="")
    parser.add_argument("--config", default="")
    parser.add_argument("--copies", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.role:
        role(args.role, json.loads(args.config))
        return
    from pricehawk import db
    from pricehawk.crawl.models import Seed
    from pricehawk.crawl.queue import push_seeds
    from pricehawk.redis_conn import connect_redis
    from pricehawk.retailers import registry, sync_retailers

    shop = ShopProcess(args.copies)
    import httpx

    sitemap = httpx.get(f"{shop.url}/sitemap.xml").text
    urls = [u.split("</loc>")[0] for u in sitemap.split("<loc>")[1:]]
    best: dict[str, float] = {"list": 0.0, "redis": 0.0, "two": 0.0}
    rounds: dict[str, list[float]] = {"list": [], "redis": [], "two": []}
    with bench_database("distributed") as url, tempfile.TemporaryDirectory() as home:
        settings = bench_settings(url, shop.url, Path(home))
        with db.connect(url) as conn:
            sync_retailers(conn, [r for r in registry(settings) if r.enabled])
            conn.commit()
        client = connect_redis(settings)
        base = {"db": url, "shop": shop.url, "home": home, "prefix": settings.redis_prefix}

        def feed(cycle: str) -> None:
            seeds = [Seed(u, "catalog", "parse_product", u.split("/")[3], cycle) for u in urls]
            push_seeds(client, settings, seeds)

        for i in range(args.rounds):
            local = result(spawn("local", {**base, "cycle": f"l{i}", "urls": urls}))
            best["list"] = max(best["list"], local["items"] / local["elapsed"])
            feed(f"r{i}")
            one = result(spawn("worker", {**base, "cycle": f"r{i}", "urls": []}))
            best["redis"] = max(best["redis"], one["items"] / one["elapsed"])
            feed(f"t{i}")
            procs = [spawn("worker", {**base, "cycle": f"t{i}", "urls": []}) for _ in range(2)]
            both = [result(p) for p in procs]
            span = max(b["end"] for b in both) - min(b["start"] for b in both)
            best["two"] = max(best["two"], sum(b["items"] for b in both) / span)
            rounds["list"].append(local["items"] / local["elapsed"])
            rounds["redis"].append(one["items"] / one["elapsed"])
            rounds["two"].append(sum(b["items"] for b in both) / span)
            print(
                f"round {i + 1}: list {local['items']} items"
                f" {local['items'] / local['elapsed']:.0f}/s,"
                f" redis x1 {one['items']} items {one['items'] / one['elapsed']:.0f}/s,"
                f" redis x2 {sum(b['items'] for b in both)} items"
                f" {sum(b['items'] for b in both) / span:.0f}/s",
                flush=True,
            )
            time.sleep(0.2)
        client.close()
    shop.stop()
    ratios = [r / x for r, x in zip(rounds["redis"], rounds["list"], strict=True)]
    spread = ", ".join(f"{k} {min(v):.0f}..{max(v):.0f}/s" for k, v in rounds.items())
    print(
        f"single rounds: {spread}; same-round ratio redis/list {min(ratios):.2f}..{max(ratios):.2f}"
        f" (median {statistics.median(ratios):.2f})"
    )
    print(f"two workers vs one: {best['two']:.0f} vs {best['redis']:.0f} pages/s "
          f"(x{best['two'] / best['redis']:.2f}; 2 shared cores)")  # fmt: skip
    print(
        f"redis-fed worker throughput: {best['redis']:.0f} pages/s "
        f"(baseline {best['list']:.0f} pages/s, ratio {best['redis'] / best['list']:.2f})"
    )


if __name__ == "__main__":
    main()
