"""The demo shop: three fictional retailers on loopback, with prices that move per cycle.

Each retailer marks its pages up differently, as real shops do:
  acme     JSON-LD Product (with an Offer)
  globex   schema.org microdata
  initech  OpenGraph / product meta tags and plain HTML

Prices are a pure function of (seed, product, cycle): a small jitter every cycle, and from
`event_cycle` on, planted events — glitches (a decimal slip, a 90%-off error) and ordinary
sales (20-40% off) that are not glitches. `POST /_control/cycle` with `{"cycle": N}` moves
the shop to cycle N; the demo and the tests do that between crawls.

For the crawler's tests, off unless switched on (attributes of DemoShop):
  jsmart           a fourth retailer whose price is written by JavaScript (browser fetching);
                   its own paths, not in RETAILERS or the sitemap, so the demo is unchanged
  robots_status    answer /robots.txt with this status (4xx: allow all, 5xx: disallow all)
  rate_limit_per_s over this many page requests a second: 429 with Retry-After
  fail_first       {path: n}: the first n requests for the path answer 503 (retries)
  flaky_every      every n-th product request answers 503
  require_proxy    product pages not forwarded by the sandbox proxy with this tag get
                   `ban_response` (a CAPTCHA or block page served as 200, or a 403/429)
  response_delay_s every answer under /<retailer>/ takes this long (overlap is measurable);
                   `max_in_flight[retailer]` records the most answered at the same time
"""

from __future__ import annotations

import base64
import html
import json
import random
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 4
CATEGORIES = ("laptops", "audio", "kitchen")
NOUNS = {
    "laptops": ["UltraBook 14", "ProBook 16", "AirLite 13", "Gamer X17"],
    "audio": ["NoiseAway Headphones", "BassBox Speaker", "StudioBuds", "SoundBar 500"],
    "kitchen": ["Espresso Master", "AirFryer XL", "Blender Pro", "Smart Kettle"],
}
BASE = {"laptops": (600, 1900), "audio": (60, 400), "kitchen": (40, 300)}


@dataclass(frozen=True)
class Event:
    """A planted price event: `kind` is a glitch kind or 'sale' (not a glitch)."""

    retailer: str
    sku: str
    kind: str  # decimal_slip_10 | extreme_discount | sale
    factor: Decimal


@dataclass(frozen=True)
class ShopProduct:
    retailer: str
    sku: str
    title: str
    category: str
    gtin: str
    base_price: Decimal


RETAILERS = ("acme", "globex", "initech")
JS_RETAILER = "jsmart"  # price rendered by JavaScript; only the browser sees it
# The planted events. Tests and the demo assert on these: the glitches reach Pro
# subscribers; the sales reach nobody.
EVENTS = (
    Event("acme", "acme-laptops-1", "decimal_slip_10", Decimal("0.1")),
    Event("globex", "globex-audio-2", "extreme_discount", Decimal("0.11")),
    Event("initech", "initech-kitchen-1", "sale", Decimal("0.7")),
    Event("acme", "acme-audio-3", "sale", Decimal("0.75")),
    Event("globex", "globex-laptops-3", "sale", Decimal("0.65")),
)


def catalogue(seed: int) -> list[ShopProduct]:
    """Every product of every retailer, reproducible from the seed."""
    rng = random.Random(seed)
    out = []
    for r_index, retailer in enumerate(RETAILERS):
        for category in CATEGORIES:
            for i, noun in enumerate(NOUNS[category]):
                low, high = BASE[category]
                price = Decimal(rng.randint(low, high)) - Decimal("0.01")
                serial = rng.randint(10**7, 10**8 - 1)
                gtin = f"0{r_index + 1}{CATEGORIES.index(category)}{i:02d}{serial}"
                out.append(
                    ShopProduct(retailer, f"{retailer}-{category}-{i}", noun, category, gtin, price)
                )
    return out


def price_at(product: ShopProduct, cycle: int, seed: int, event_cycle: int) -> Decimal:
    """The product's price in a cycle: +-1% jitter, and its planted event from event_cycle."""
    event = next((e for e in EVENTS if e.sku == product.sku), None)
    if event is not None and cycle >= event_cycle:
        if event.kind.startswith("decimal_slip"):
            # A person retyped the price the page showed with the decimal point moved:
            # the same digits, cut (not rounded) at the cents.
            shown = price_at(product, event_cycle - 1, seed, event_cycle)
            return (shown * event.factor).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return (product.base_price * event.factor).quantize(Decimal("0.01"), ROUND_HALF_UP)
    rng = random.Random(f"{seed}:{product.sku}:{cycle}")
    price = product.base_price * Decimal(str(1 + rng.uniform(-0.01, 0.01)))
    return price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _page(title: str, head: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>{head}</head><body>{body}</body></html>"
    )


def render_product(p: ShopProduct, price: Decimal, url: str) -> str:
    """A product page in the retailer's own markup style."""
    title = f"{p.title} ({p.retailer.title()})"
    image = f"/{p.retailer}/img/{p.sku}.jpg"
    esc = html.escape
    if p.retailer == "acme":
        data = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": title,
            "sku": p.sku,
            "gtin13": p.gtin,
            "brand": {"@type": "Brand", "name": "Acme"},
            "image": image,
            "offers": {
                "@type": "Offer",
                "url": url,
                "price": str(price),
                "priceCurrency": "USD",
                "availability": "https://schema.org/InStock",
            },
        }
        head = f"<script type='application/ld+json'>{json.dumps(data)}</script>"
        body = (
            f"<h1>{esc(title)}</h1><div class='buy-box'><span class='price'>${price}</span></div>"
        )
    elif p.retailer == "globex":
        head = ""
        body = (
            "<div itemscope itemtype='https://schema.org/Product'>"
            f"<h1 itemprop='name'>{esc(title)}</h1>"
            f"<meta itemprop='sku' content='{p.sku}'><meta itemprop='gtin13' content='{p.gtin}'>"
            f"<img itemprop='image' src='{image}' alt=''>"
            "<div itemprop='offers' itemscope itemtype='https://schema.org/Offer'>"
            f"<span itemprop='price' content='{price}'>${price}</span>"
            "<meta itemprop='priceCurrency' content='USD'>"
            "<link itemprop='availability' href='https://schema.org/InStock'>"
            "</div></div>"
        )
    else:
        head = (
            "<meta property='og:type' content='product'>"
            f"<meta property='og:title' content='{esc(title)}'>"
            f"<meta property='og:image' content='{image}'><meta property='og:url' content='{url}'>"
            f"<meta property='product:price:amount' content='{price}'>"
            "<meta property='product:price:currency' content='USD'>"
            "<meta property='product:availability' content='in stock'>"
            f"<meta property='product:retailer_item_id' content='{p.sku}'>"
        )
        body = f"<h1>{esc(title)}</h1><p class='price'>${price}</p><p>SKU {p.sku}</p>"
    return _page(title, head, body)


def js_catalogue(seed: int) -> list[ShopProduct]:
    """The JavaScript retailer's products (its own generator: the others stay as they were)."""
    rng = random.Random(f"{seed}:{JS_RETAILER}")
    out = []
    for category in CATEGORIES[:2]:
        for i, noun in enumerate(NOUNS[category][:3]):
            low, high = BASE[category]
            price = Decimal(rng.randint(low, high)) - Decimal("0.01")
            gtin = f"09{CATEGORIES.index(category)}{i:02d}{rng.randint(10**7, 10**8 - 1)}"
            out.append(ShopProduct(JS_RETAILER, f"{JS_RETAILER}-{category}-{i}", noun, category,
                                   gtin, price))  # fmt: skip
    return out


def render_js_product(p: ShopProduct, price: Decimal) -> str:
    """A page whose price exists only after its script runs (a plain fetch sees a shell)."""
    title = f"{p.title} (JSmart)"
    encoded = base64.b64encode(json.dumps({"p": str(price), "c": "USD"}).encode()).decode()
    script = (
        "<script>setTimeout(function(){var d=JSON.parse(atob('" + encoded + "'));"
        "var el=document.getElementById('price');el.textContent='$'+d.p;"
        "el.setAttribute('data-currency',d.c);el.className='price ready';}, 50);</script>"
    )
    # An image, a web font and a video, as real product pages have: a crawler's browser
    # should fetch none of them (the tests check the shop never saw these paths).
    head = (
        f"<style>@font-face{{font-family:'JS Sans';src:url('/{JS_RETAILER}/font/sans.woff2')}}"
        "h1{font-family:'JS Sans',sans-serif}</style>"
    )
    body = (
        f"<h1 class='title'>{html.escape(title)}</h1><p>SKU {p.sku}</p>"
        f"<div class='buy-box'><span id='price' class='price'></span></div>"
        f"<img src='/{JS_RETAILER}/img/{p.sku}.jpg' alt=''>"
        f"<video src='/{JS_RETAILER}/media/{p.sku}.mp4' preload='auto' muted></video>{script}"
    )
    return _page(title, head, body)


BLOCK_PAGES = {
    "captcha": _page(
        "Are you a robot?",
        "<script src='https://www.google.com/recaptcha/api.js'></script>",
        "<h1>Please verify you are a human</h1><div class='g-recaptcha'></div>"
        "<p>Our systems have detected unusual traffic from your computer network.</p>",
    ),
    "blocked": _page(
        "Access Denied",
        "",
        "<h1>Access Denied</h1><p>You don't have permission to access this page.</p>"
        "<p>Reference #18.4f2a3b17.1700000000.1a2b3c4d</p>",
    ),
}


class DemoShop:
    """The shop's state: seed, current cycle, and when the planted events start."""

    def __init__(self, seed: int = 7, event_cycle: int = 3) -> None:
        self.seed = seed
        self.event_cycle = event_cycle
        self.cycle = 0
        self.products = {p.sku: p for p in catalogue(seed)}
        self.js_products = {p.sku: p for p in js_catalogue(seed)}
        self.hits = 0
        self.lock = threading.Lock()
        # crawler test switches (see the module docstring); all off by default
        self.robots_status = 200
        self.rate_limit_per_s = 0.0
        self.fail_first: dict[str, int] = {}
        self.flaky_every = 0
        self.require_proxy = ""
        self.ban_response = "captcha"
        self.paths: list[str] = []  # every path requested, in order
        self.proxied: list[str] = []  # X-Sandbox-Proxy tag of each product page served
        self._window: list[float] = []
        self._product_hits = 0
        self.response_delay_s = 0.0
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}

    def respond_full(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        base: str,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str, dict[str, str]]:
        """(status, content type, body, extra headers), with the test switches applied."""
        headers = headers or {}
        with self.lock:
            self.paths.append(path)
            limited = False
            if self.rate_limit_per_s and not path.startswith("/_control"):
                now = time.monotonic()
                self._window = [t for t in self._window if now - t < 1.0]
                limited = len(self._window) >= self.rate_limit_per_s
                if not limited:
                    self._window.append(now)
            failing = self.fail_first.get(path, 0)
            if failing:
                self.fail_first[path] = failing - 1
            is_product = "/product/" in path
            flaky = False
            if is_product:
                self._product_hits += 1
                flaky = bool(self.flaky_every) and self._product_hits % self.flaky_every == 0
        if limited:
            return (
                429,
                "text/html",
                _page("Too Many Requests", "", "<h1>Slow down</h1>"),
                {"Retry-After": "1"},
            )
        if failing or flaky:
            return 503, "text/html", _page("Unavailable", "", "<h1>Try again</h1>"), {}
        if path == "/robots.txt" and self.robots_status != 200:
            return self.robots_status, "text/plain", "unavailable\n", {}
        tag = headers.get("x-sandbox-proxy", "")
        if is_product:
            with self.lock:
                self.proxied.append(tag)
            if self.require_proxy and tag != self.require_proxy:
                if self.ban_response in BLOCK_PAGES:
                    return 200, "text/html; charset=utf-8", BLOCK_PAGES[self.ban_response], {}
                status = int(self.ban_response)
                extra = {"Retry-After": "30"} if status == 429 else {}
                return status, "text/html", BLOCK_PAGES["blocked"], extra
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == JS_RETAILER:
            if parts[1] == "category":
                return (*self._category(JS_RETAILER, parts[2], query, base), {})
            product = self.js_products.get(parts[2])
            if parts[1] == "product" and product:
                return (
                    200,
                    "text/html; charset=utf-8",
                    render_js_product(product, self.price(product)),
                    {},
                )
        return (*self.respond(method, path, query, body, base, count=False), {})

    def price(self, p: ShopProduct) -> Decimal:
        return price_at(p, self.cycle, self.seed, self.event_cycle)

    def respond(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        base: str,
        count: bool = True,
    ) -> tuple[int, str, str]:
        """(status, content type, body) for one request."""
        if count:
            with self.lock:
                self.hits += 1
        parts = [p for p in path.split("/") if p]
        if path == "/robots.txt":
            return (
                200,
                "text/plain",
                (
                    "User-agent: *\nDisallow: /acme/cart\nDisallow: /_control\n"
                    f"Sitemap: {base}/sitemap.xml\n"
                ),
            )
        if path == "/sitemap.xml":
            urls = "".join(
                f"<url><loc>{base}/{p.retailer}/product/{p.sku}</loc></url>"
                for p in self.products.values()
            )
            return (
                200,
                "application/xml",
                (
                    "<?xml version='1.0' encoding='UTF-8'?>"
                    f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urls}</urlset>"
                ),
            )
        if path == "/_control/cycle" and method == "POST":
            try:
                self.cycle = int(json.loads(body or b"{}")["cycle"])
            except (ValueError, KeyError, TypeError):
                return 400, "application/json", '{"error": "send {\\"cycle\\": N}"}'
            return 200, "application/json", json.dumps({"cycle": self.cycle})
        if path == "/_control/state":
            return 200, "application/json", json.dumps({"cycle": self.cycle, "hits": self.hits})
        if len(parts) == 3 and parts[0] in RETAILERS and parts[1] == "category":
            return self._category(parts[0], parts[2], query, base)
        if len(parts) == 3 and parts[0] in RETAILERS and parts[1] == "product":
            product = self.products.get(parts[2])
            if product and product.retailer == parts[0]:
                url = f"{base}{path}"
                return (
                    200,
                    "text/html; charset=utf-8",
                    render_product(product, self.price(product), url),
                )
        return 404, "text/html", _page("Not found", "", "<h1>Page not found</h1>")

    def _category(
        self, retailer: str, category: str, query: dict[str, list[str]], base: str
    ) -> tuple[int, str, str]:
        if category not in CATEGORIES:
            return 404, "text/html", _page("Not found", "", "<h1>No such category</h1>")
        source = self.js_products if retailer == JS_RETAILER else self.products
        items = [p for p in source.values() if p.retailer == retailer and p.category == category]
        try:
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            page = 1
        chunk = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        links = "".join(
            f"<li class='product-card'><a class='product-link' href='/{retailer}/product/{p.sku}'>"
            f"{html.escape(p.title)}</a> <span class='card-price'>${self.price(p)}</span></li>"
            for p in chunk
        )
        nav = ""
        if page * PAGE_SIZE < len(items):
            href = f"/{retailer}/category/{category}?page={page + 1}"
            nav = f"<a rel='next' class='next' href='{href}'>Next</a>"
        title = f"{retailer.title()} — {category}"
        return (
            200,
            "text/html; charset=utf-8",
            _page(title, "", f"<h1>{title}</h1><ul>{links}</ul>{nav}"),
        )


def make_handler(shop: DemoShop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = (
                self.headers.get("Host")
                or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
            )
            section = parts.path.strip("/").split("/")[0]  # the retailer, for acme pages
            with shop.lock:
                shop.hits += 1
                now = shop.in_flight[section] = shop.in_flight.get(section, 0) + 1
                shop.max_in_flight[section] = max(now, shop.max_in_flight.get(section, 0))
            try:
                if shop.response_delay_s and section != "robots.txt":
                    time.sleep(shop.response_delay_s)
                status, ctype, text, extra = shop.respond_full(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    body,
                    f"http://{host}",
                    {k.lower(): v for k, v in self.headers.items()},
                )
            finally:
                with shop.lock:
                    shop.in_flight[section] -= 1
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the crawler's own stats say what was fetched

    return Handler


class ShopServer:
    """The demo shop served on loopback in a background thread (port 0: any free port)."""

    def __init__(self, shop: DemoShop | None = None, host: str = "127.0.0.1", port: int = 0):
        self.shop = shop or DemoShop()
        self.httpd = ThreadingHTTPServer((host, port), make_handler(self.shop))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ShopServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
