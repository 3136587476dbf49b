"""Scrapy settings for PriceHawk's crawler.

PriceHawk's own Settings object reaches components as the PRICEHAWK_SETTINGS setting
(`pricehawk crawl` puts it there, with the distributed and browser settings when asked);
nothing here reads the environment.
"""

BOT_NAME = "pricehawk"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Our RFC 9309 middleware replaces Scrapy's, which crawls anyway on a 5xx robots.txt.
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_TIMEOUT = 20
RETRY_TIMES = 3
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0
LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DUPEFILTER_CLASS = "crawler.scheduler.CycleDupeFilter"
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every callback's output, however little it
# yields (a product page yields one item; our pipeline's process_item only buffers): its
# default of 100 made ~100 tasks per response, the crawl's biggest reactor cost.
CONCURRENT_ITEMS = 8
# A development-time lint that re-reads and parses a callback's source with `ast` whenever its
# weak cache has dropped the bound method (every few responses); ruff covers it for us.
WARN_ON_GENERATOR_RETURN_VALUE = False

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RobotsMiddleware": 100,
    # a cluster-wide download lease per retailer first, then the (shared) delay slot
    "crawler.middlewares.ConcurrencyLeaseMiddleware": 115,
    "crawler.middlewares.PolitenessMiddleware": 120,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # before HttpProxyMiddleware (750), which turns proxy URL credentials into a header
    "crawler.middlewares.ProxyMiddleware": 740,
    "crawler.middlewares.MetricsMiddleware": 950,
}
EXTENSIONS = {"crawler.extensions.RunTracker": 500}
ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}

# How many items the pipeline writes per database round trip, and how often it flushes.
PRICEHAWK_BATCH_SIZE = 200
PRICEHAWK_FLUSH_INTERVAL_S = 1.0
# How long a batch is retried while the database is down before it is given up.
PRICEHAWK_DB_RETRY_S = 600.0
# Retries: base * 2^n seconds, capped; Retry-After always honoured.
PRICEHAWK_RETRY_BASE_S = 1.0
PRICEHAWK_RETRY_CAP_S = 60.0
# robots.txt that answered 5xx / nothing is fetched again after this many seconds.
PRICEHAWK_ROBOTS_RECHECK_S = 30.0
# A banned proxy rests this long (a 429's Retry-After wins when given).
PRICEHAWK_PROXY_BENCH_S = 300.0
# Scrape health: over this share of block pages in a window of at least MIN_PAGES product
# pages, a retailer's delays double (up to x8) and it is flagged.
PRICEHAWK_BLOCK_RATE_THRESHOLD = 0.3
PRICEHAWK_BLOCK_RATE_MIN_PAGES = 10
PRICEHAWK_SLOWED_MIN_DELAY_S = 0.25
# Distributed workers: heartbeat period; how long an idle worker waits for new work.
PRICEHAWK_HEARTBEAT_S = 2.0
PRICEHAWK_LINGER_S = 0.0
# Distributed workers: a download lease (per-retailer concurrency across workers) expires
# this long after its last renewal (renewed every heartbeat while its download runs); 0 means
# 5 heartbeats. A dead worker's leases block their retailer for at most this long.
PRICEHAWK_LEASE_TTL_S = 0.0
PRICEHAWK_LEASE_POLL_S = 0.05

# Browser fetching (only wired in when a crawled retailer has `fetch: browser`).
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_MAX_CONTEXTS = 4
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 20000
PLAYWRIGHT_ABORT_REQUEST = "crawler.spiders.base.abort_heavy_resources"
