"""Scrapy settings for PriceHawk's crawler.

PriceHawk's own Settings object reaches components as the PRICEHAWK_SETTINGS setting
(`pricehawk crawl` puts it there); nothing here reads the environment.
"""

BOT_NAME = "pricehawk"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 20
RETRY_TIMES = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}

# How many items the pipeline writes per database round trip.
PRICEHAWK_BATCH_SIZE = 200
