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


_FIELDS = {
    "slug", "name", "domains", "start_urls", "sitemaps", "fetch", "currency", "locale",
    "crawl_interval_s", "download_delay_s", "concurrency", "product_url_pattern",
    "extraction", "categories", "proxies",
}  # fmt: skip


def _require(source: str, data: Mapping[str, Any], name: str, kind: type) -> Any:
    if name not in data:
        raise RetailerConfigError(f"{source}: {name}: missing")
    value = data[name]
    if not isinstance(value, kind):
        raise RetailerConfigError(f"{source}: {name}: expected {kind.__name__}, got {value!r}")
    return value


def _strings(source: str, data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RetailerConfigError(f"{source}: {name}: expected a list of strings")
    return tuple(value)


def parse_retailer(data: Any, source: str) -> Retailer:
    """Validate one retailer mapping; raise RetailerConfigError naming file and field."""
    if not isinstance(data, dict):
        raise RetailerConfigError(f"{source}: expected a mapping at the top level")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise RetailerConfigError(f"{source}: {unknown[0]}: unknown field")
    slug = _require(source, data, "slug", str)
    if not slug.replace("-", "").replace("_", "").isalnum():
        raise RetailerConfigError(f"{source}: slug: use letters, digits, '-' and '_' only")
    fetch = data.get("fetch", "http")
    if fetch not in ("http", "browser"):
        raise RetailerConfigError(f"{source}: fetch: must be 'http' or 'browser', got {fetch!r}")
    domains = _strings(source, data, "domains")
    if not domains:
        raise RetailerConfigError(f"{source}: domains: at least one domain is required")
    numbers: dict[str, Any] = {}
    for name, kind, minimum in (
        ("crawl_interval_s", int, 60),
        ("concurrency", int, 1),
        ("download_delay_s", (int, float), 0),
    ):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
                raise RetailerConfigError(f"{source}: {name}: must be a number >= {minimum}")
            numbers[name] = value
    for name in ("extraction", "categories"):
        if not isinstance(data.get(name, {}), dict):
            raise RetailerConfigError(f"{source}: {name}: expected a mapping")
    return Retailer(
        slug=slug,
        name=_require(source, data, "name", str),
        domains=domains,
        start_urls=_strings(source, data, "start_urls"),
        sitemaps=_strings(source, data, "sitemaps"),
        fetch=fetch,
        currency=data.get("currency"),
        locale=data.get("locale"),
        product_url_pattern=data.get("product_url_pattern"),
        extraction=data.get("extraction", {}),
        categories=data.get("categories", {}),
        proxies=_strings(source, data, "proxies"),
        source=source,
        **numbers,
    )


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
                json.dumps({"categories": dict(r.categories), "extraction": dict(r.extraction)}),
            ),
        ).fetchone()
        ids[r.slug] = row["id"] if isinstance(row, dict) else row[0]
    return ids
