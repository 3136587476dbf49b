"""The Scrapy project: thin adapters around pricehawk (extraction, prices, detection)."""
