"""Full crawl of a served demo catalogue (robots, politeness, extraction, validation, batched
database writes, anomaly flagging) against a bare Scrapy spider that only fetches and parses
the same pages, alternating in one reactor. Figure: product pages per second, ratio ours/bare."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from _crawlbench import (
    BareSpider,
    ShopProcess,
    bare_settings,
    bench_database,
    bench_settings,
    elapsed,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=15, help="catalogue size x36 products")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.settings import Settings as ScrapySettings
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor  # noqa: F401 - installed above

    from pricehawk import db
    from pricehawk.cli.crawl import scrapy_settings_for
    from pricehawk.retailers import registry, sync_retailers

    shop = ShopProcess(args.copies)
    products = shop.products
    results: dict[str, list[float]] = {"ours": [], "bare": []}
    with bench_database("crawl") as url, tempfile.TemporaryDirectory() as home:
        settings = bench_settings(url, shop.url, Path(home))
        retailers = [r for r in registry(settings) if r.enabled]
        with db.connect(url) as conn:
            sync_retailers(conn, retailers)
            conn.commit()
        starts = [u for r in retailers for u in r.start_urls]

        async def run_all() -> None:
            for i in range(args.rounds):
                # Alternate which crawl goes first, so a load spike on the shared machine or
                # a warm-up effect does not always land on the same side.
                order = ("ours", "bare") if i % 2 == 0 else ("bare", "ours")
                for side in order:
                    if side == "ours":
                        ours = AsyncCrawlerRunner(
                            scrapy_settings_for(
                                settings, cycle_key=f"bench-{i}", extra={"LOG_LEVEL": "ERROR"}
                            )
                        )
                        c = ours.create_crawler("catalog")
                        await ours.crawl(c, cycle_key=f"bench-{i}")
                        results["ours"].append(
                            c.stats.get_value("item_scraped_count", 0) / elapsed(c)
                        )
                    else:
                        bare = AsyncCrawlerRunner(ScrapySettings(bare_settings()))
                        b = bare.create_crawler(BareSpider)
                        await bare.crawl(b, start=starts)
                        results["bare"].append(b.spider.parsed / elapsed(b))
                print(
                    f"round {i + 1}: ours {results['ours'][-1]:.0f} pages/s, "
                    f"bare {results['bare'][-1]:.0f} pages/s",
                    flush=True,
                )

        from twisted.internet import defer
        from twisted.internet import reactor as r

        d = defer.Deferred.fromFuture(asyncio.ensure_future(run_all()))
        d.addBoth(lambda _: r.stop())
        r.run()
        d.addErrback(lambda f: print(f))
    shop.stop()
    # Medians, not bests: the machine is shared and single rounds swing by 2x either way.
    ours_v, bare_v = statistics.median(results["ours"]), statistics.median(results["bare"])
    ratios = [o / b for o, b in zip(results["ours"], results["bare"], strict=True)]
    print(f"catalogue: {products} products, {args.rounds} rounds (median of rounds)")
    print(
        f"single rounds: ours {min(results['ours']):.0f}..{max(results['ours']):.0f} pages/s,"
        f" bare {min(results['bare']):.0f}..{max(results['bare']):.0f} pages/s, same-round"
        f" ratio {min(ratios):.2f}..{max(ratios):.2f}"
    )
    print(
        f"full crawl throughput: {ours_v:.0f} pages/s "
        f"(baseline {bare_v:.0f} pages/s, ratio {statistics.median(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
