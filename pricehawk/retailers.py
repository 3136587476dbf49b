"""The retailer registry: one YAML file per retailer in crawler/retailers/.

Each file is validated on load; an error names the file, the field and the problem.
`{demo_shop}` anywhere in a file expands to PRICEHAWK_DEMO_SHOP_URL, so the sandbox's
retailers work on whatever port the demo shop got.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pricehawk.settings import Settings


class RetailerConfigError(ValueError):
    """A retailer file is invalid: `file: field: problem`."""


@dataclass(frozen=True)
class Retailer:
    """One retailer's crawl configuration (validated; see SCHEMA for every field)."""

    slug: str
    name: str
    domains: tuple[str, ...]
    start_urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    fetch: str = "http"
    currency: str | None = None
    locale: str | None = None
    crawl_interval_s: int = 900
    download_delay_s: float = 0.0
    concurrency: int = 4
    product_url_pattern: str | None = None
    extraction: Mapping[str, Any] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    proxies: tuple[str, ...] = ()
    enabled: bool = True
    listing: Mapping[str, str] = field(default_factory=dict)
    browser: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def owns(self, url: str) -> bool:
        """Whether a URL belongs to this retailer (host, or host:port for loopback shops)."""
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        for domain in self.domains:
            if "/" in domain:  # a host:port/path prefix, as the demo shop's retailers use
                if f"{netloc}{parts.path}".startswith(domain):
                    return True
            elif netloc == domain or netloc.endswith("." + domain):
                return True
        return False

    def is_product_url(self, url: str) -> bool:
        """Whether a link found on a listing or sitemap is one of this retailer's products."""
        if not self.owns(url):
            return False
        return not self.product_url_pattern or self.product_url_pattern in url


# Every field a retailer file may have, with what it means (`pricehawk retailers check`
# prints problems against this; docs/crawling.md shows an example).
SCHEMA: dict[str, str] = {
    "slug": "required; letters, digits, '-' and '_'; unique across files",
    "name": "required; display name",
    "domains": "required; hosts (or host:port/path prefixes) whose URLs belong here",
    "enabled": "false: crawled only when named with --retailer (default true)",
    "start_urls": "category listings (followed with pagination)",
    "sitemaps": "sitemap or sitemap-index URLs",
    "fetch": "'http' (default) or 'browser' (scrapy-playwright, Debian's chromium)",
    "currency": "ISO 4217 code assumed when a page gives none",
    "locale": "number format of visible prices, e.g. de_DE",
    "crawl_interval_s": "seconds between cycles (>= 60, default 900)",
    "download_delay_s": "seconds between requests across all workers (>= 0)",
    "concurrency": "parallel requests per worker (>= 1, default 4)",
    "product_url_pattern": "substring every product URL contains",
    "listing": "mapping: product_links (CSS for links), next_page (CSS for the next link)",
    "extraction": "per-field selectors for pricehawk.extraction (price, title, ...)",
    "categories": "mapping: listing slug -> our category name",
    "proxies": "list of http(s) proxy URLs rotated per request; banned ones rest",
    "browser": "mapping: wait_for (CSS the page must show), timeout_ms",
}
_FIELDS = set(SCHEMA)
_LISTING_KEYS = {"product_links", "next_page"}
_BROWSER_KEYS = {"wait_for", "timeout_ms"}


def _fail(source: str, name: str, problem: str) -> RetailerConfigError:
    return RetailerConfigError(f"{source}: {name}: {problem}")


def _require(source: str, data: Mapping[str, Any], name: str, kind: type) -> Any:
    if name not in data:
        raise _fail(source, name, "missing")
    value = data[name]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise _fail(source, name, f"expected a non-empty {kind.__name__}, got {value!r}")
    return value


def _strings(source: str, data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, name, "expected a list of strings")
    return tuple(value)


def _urls(source: str, data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    urls = _strings(source, data, name)
    for i, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _fail(source, f"{name}[{i}]", f"expected an http(s) URL, got {url!r}")
    return urls


def _mapping(source: str, data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise _fail(source, name, "expected a mapping")
    return value


def parse_retailer(data: Any, source: str) -> Retailer:
    """Validate one retailer mapping; raise RetailerConfigError naming file and field."""
    if not isinstance(data, dict):
        raise RetailerConfigError(f"{source}: expected a mapping at the top level")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise _fail(source, unknown[0], f"unknown field (known: {', '.join(sorted(_FIELDS))})")
    slug = _require(source, data, "slug", str)
    if not slug.replace("-", "").replace("_", "").isalnum():
        raise _fail(source, "slug", "use letters, digits, '-' and '_' only")
    fetch = data.get("fetch", "http")
    if fetch not in ("http", "browser"):
        raise _fail(source, "fetch", f"must be 'http' or 'browser', got {fetch!r}")
    domains = _strings(source, data, "domains")
    if not domains:
        raise _fail(source, "domains", "at least one domain is required")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail(source, "enabled", f"expected true or false, got {enabled!r}")
    numbers: dict[str, Any] = {}
    for name, kind, minimum in (
        ("crawl_interval_s", int, 60),
        ("concurrency", int, 1),
        ("download_delay_s", (int, float), 0),
    ):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
                raise _fail(source, name, f"must be a number >= {minimum}, got {value!r}")
            numbers[name] = value
    currency = data.get("currency")
    if currency is not None and (
        not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha()
    ):
        raise _fail(source, "currency", f"expected an ISO 4217 code like USD, got {currency!r}")
    for name in ("locale", "product_url_pattern"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise _fail(source, name, f"expected a string, got {data[name]!r}")
    extraction = _mapping(source, data, "extraction")
    try:
        from pricehawk.extraction.selectors import SelectorConfig, SelectorConfigError

        SelectorConfig.from_mapping(extraction)
    except SelectorConfigError as exc:
        raise RetailerConfigError(f"{source}: {exc}") from exc
    categories = _mapping(source, data, "categories")
    for k, v in categories.items():
        if not isinstance(v, str):
            raise _fail(source, f"categories.{k}", f"expected a category name, got {v!r}")
    listing = _mapping(source, data, "listing")
    browser = _mapping(source, data, "browser")
    for name, value, allowed in (
        ("listing", listing, _LISTING_KEYS),
        ("browser", browser, _BROWSER_KEYS),
    ):
        extra = sorted(set(value) - allowed)
        if extra:
            raise _fail(
                source, f"{name}.{extra[0]}", f"unknown key (known: {', '.join(sorted(allowed))})"
            )
    for k, v in listing.items():
        if not isinstance(v, str) or not v.strip():
            raise _fail(source, f"listing.{k}", "expected a CSS selector")
    if "timeout_ms" in browser and (
        isinstance(browser["timeout_ms"], bool)
        or not isinstance(browser["timeout_ms"], int)
        or browser["timeout_ms"] < 100
    ):
        raise _fail(source, "browser.timeout_ms", "must be an integer >= 100")
    if browser and fetch != "browser":
        raise _fail(source, "browser", "only meaningful with fetch: browser")
    retailer = Retailer(
        slug=slug,
        name=_require(source, data, "name", str),
        domains=domains,
        start_urls=_urls(source, data, "start_urls"),
        sitemaps=_urls(source, data, "sitemaps"),
        fetch=fetch,
        currency=currency.upper() if currency else None,
        locale=data.get("locale"),
        product_url_pattern=data.get("product_url_pattern"),
        extraction=extraction,
        categories=categories,
        proxies=_urls(source, data, "proxies"),
        enabled=enabled,
        listing=listing,
        browser=browser,
        source=source,
        **numbers,
    )
    for name in ("start_urls", "sitemaps"):
        for i, url in enumerate(getattr(retailer, name)):
            if name == "start_urls" and not retailer.owns(url):
                raise _fail(source, f"{name}[{i}]", f"{url!r} is not on any of the domains")
    return retailer


def load_retailers(directory: Path, demo_shop_url: str = "") -> list[Retailer]:
    """Load and validate every *.yaml in `directory`, sorted by slug; slugs must be unique."""
    netloc = urlsplit(demo_shop_url).netloc
    retailers: dict[str, Retailer] = {}
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text().replace("{demo_shop}", demo_shop_url.rstrip("/"))
        text = text.replace("{demo_shop_host}", netloc)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RetailerConfigError(f"{path.name}: not valid YAML: {exc}") from exc
        retailer = parse_retailer(data, path.name)
        if retailer.slug in retailers:
            raise RetailerConfigError(f"{path.name}: slug: {retailer.slug!r} is used twice")
        retailers[retailer.slug] = retailer
    return sorted(retailers.values(), key=lambda r: r.slug)


def check_all(directory: Path, demo_shop_url: str = "") -> tuple[list[str], list[Retailer]]:
    """Validate every file, collecting each file's problem instead of stopping at the first."""
    netloc = urlsplit(demo_shop_url).netloc
    problems: list[str] = []
    good: dict[str, Retailer] = {}
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text().replace("{demo_shop}", demo_shop_url.rstrip("/"))
        text = text.replace("{demo_shop_host}", netloc)
        try:
            retailer = parse_retailer(yaml.safe_load(text), path.name)
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        except RetailerConfigError as exc:
            problems.append(str(exc))
            continue
        if retailer.slug in good:
            problems.append(f"{path.name}: slug: {retailer.slug!r} is used twice")
            continue
        good[retailer.slug] = retailer
    return problems, sorted(good.values(), key=lambda r: r.slug)


def registry(settings: Settings) -> list[Retailer]:
    """The configured retailers."""
    return load_retailers(settings.retailers_path, settings.demo_shop_url)


def retailer_for_url(retailers: list[Retailer], url: str) -> Retailer | None:
    """The retailer a pasted or crawled URL belongs to, if any."""
    return next((r for r in retailers if r.owns(url)), None)


def sync_retailers(conn: Any, retailers: list[Retailer]) -> dict[str, int]:
    """Upsert the registry into the retailers table (keeping pause and breaker state)."""
    ids: dict[str, int] = {}
    for r in retailers:
        row = conn.execute(
            """
            INSERT INTO retailers
                (slug, name, domains, fetch_mode, currency, crawl_interval_s, config)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (slug) DO UPDATE SET name = excluded.name, domains = excluded.domains,
                fetch_mode = excluded.fetch_mode, currency = excluded.currency,
                crawl_interval_s = excluded.crawl_interval_s, config = excluded.config,
                updated_at = now()
            RETURNING id
            """,
            (
                r.slug,
                r.name,
                list(r.domains),
                r.fetch,
                r.currency,
                r.crawl_interval_s,
                json.dumps(
                    {
                        "categories": dict(r.categories),
                        "extraction": dict(r.extraction),
                        "start_urls": list(r.start_urls),
                        "sitemaps": list(r.sitemaps),
                        "politeness": {
                            "download_delay_s": r.download_delay_s,
                            "concurrency": r.concurrency,
                        },
                        "proxies": len(r.proxies),  # how many, never the URLs (credentials)
                        "enabled": r.enabled,
                        "source": r.source,
                    }
                ),
            ),
        ).fetchone()
        ids[r.slug] = row["id"] if isinstance(row, dict) else row[0]
    return ids
