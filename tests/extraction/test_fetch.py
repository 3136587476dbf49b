"""pricehawk.fetch against pages served on 127.0.0.1 (never the network)."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pricehawk.cli import extract as cli
from pricehawk.fetch import FetchError, RobotsDisallowed, fetch, robots_allows
from pricehawk.settings import load_settings

UA = "PriceHawkBot/0.1 (+https://pricehawk.example/bot)"
PRODUCT = (
    '<html><head><script type="application/ld+json">{"@type":"Product","name":"Lamp",'
    '"offers":{"@type":"Offer","price":"45.00","priceCurrency":"USD"}}</script></head>'
    "<body><h1>Lamp</h1></body></html>"
)


class Site:
    """Routes path -> (status, body, headers); records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.seen: list[tuple[str, str]] = []
        self.base = ""


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path, self.headers.get("User-Agent", "")))
            status, body, headers = state.routes.get(self.path, (404, "not found", {}))
            if body == "HANG":
                threading.Event().wait(2)
                body = ""
            data = body.encode()
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header(
                    "Content-Type", headers.get("Content-Type", "text/html; charset=utf-8")
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test): nothing to answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_fetch_sends_our_user_agent_and_checks_robots_first(site: Site) -> None:
    site.routes["/robots.txt"] = (200, "User-agent: *\nDisallow: /private\n", {})
    site.routes["/p/1"] = (200, PRODUCT, {})
    got = fetch(site.base + "/p/1", user_agent=UA)
    assert got.status == 200 and "Lamp" in got.text
    assert [p for p, _ in site.seen] == ["/robots.txt", "/p/1"]
    assert all(ua == UA for _, ua in site.seen)


def test_robots_disallow_for_our_token(site: Site) -> None:
    site.routes["/robots.txt"] = (200, "User-agent: PriceHawkBot\nDisallow: /p/\n", {})
    site.routes["/p/1"] = (200, PRODUCT, {})
    with pytest.raises(RobotsDisallowed, match="disallows"):
        fetch(site.base + "/p/1", user_agent=UA)
    assert [p for p, _ in site.seen] == ["/robots.txt"]


def test_robots_4xx_allows_all(site: Site) -> None:
    site.routes["/p/1"] = (200, PRODUCT, {})  # /robots.txt -> 404
    assert fetch(site.base + "/p/1", user_agent=UA).status == 200


def test_robots_5xx_disallows_all(site: Site) -> None:
    site.routes["/robots.txt"] = (503, "down", {})
    with pytest.raises(RobotsDisallowed, match="unreachable"):
        fetch(site.base + "/p/1", user_agent=UA)


def test_robots_redirect_loop_counts_as_unavailable(site: Site) -> None:
    site.routes["/robots.txt"] = (301, "", {"Location": "/robots.txt"})
    site.routes["/p/1"] = (200, PRODUCT, {})
    assert fetch(site.base + "/p/1", user_agent=UA).status == 200


def test_robots_can_be_skipped(site: Site) -> None:
    site.routes["/robots.txt"] = (200, "User-agent: *\nDisallow: /\n", {})
    site.routes["/p/1"] = (200, PRODUCT, {})
    assert fetch(site.base + "/p/1", user_agent=UA, respect_robots=False).status == 200


def test_redirect_is_followed(site: Site) -> None:
    site.routes["/old"] = (301, "", {"Location": "/p/1"})
    site.routes["/p/1"] = (200, PRODUCT, {})
    got = fetch(site.base + "/old", user_agent=UA)
    assert got.url == site.base + "/p/1"


def test_timeout_is_a_fetch_error(site: Site) -> None:
    site.routes["/slow"] = (200, "HANG", {})
    with pytest.raises(FetchError, match="timed out"):
        fetch(site.base + "/slow", user_agent=UA, timeout=0.3, respect_robots=False)


def test_unreachable_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError):
        fetch("http://127.0.0.1:9/x", user_agent=UA, timeout=1, respect_robots=False)


@pytest.mark.parametrize("url", ["ftp://x/y", "not a url", "http:///nohost"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(FetchError, match="not an http"):
        fetch(url, user_agent=UA)


@pytest.mark.parametrize(
    ("status", "body", "allowed"),
    [
        (None, "", False),
        (500, "", False),
        (404, "", True),
        (401, "", True),
        (200, "User-agent: *\nDisallow: /\n", False),
        (200, "User-agent: *\nAllow: /\n", True),
        (200, "User-agent: otherbot\nDisallow: /\n", True),
        (200, "", True),
    ],
)
def test_robots_allows(status: int | None, body: str, allowed: bool) -> None:
    assert robots_allows(status, body, "https://x.com/p/1", UA) is allowed


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["extract", *argv])
    code = args.func(args, load_settings({}))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_fetches_a_url(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.routes["/p/1"] = (200, PRODUCT, {})
    code, out, _ = _cli([site.base + "/p/1"], capsys)
    data = json.loads(out)
    assert code == 0 and data["price"] == "45.00" and data["url"] == site.base + "/p/1"


def test_cli_fetch_error_exits_2(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.routes["/robots.txt"] = (200, "User-agent: *\nDisallow: /\n", {})
    code, out, err = _cli([site.base + "/p/1"], capsys)
    assert code == 2 and out == "" and "robots.txt" in err


def test_cli_http_404_is_no_price(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.routes["/gone"] = (404, PRODUCT, {})
    code, out, _ = _cli([site.base + "/gone"], capsys)
    assert code == 1 and json.loads(out)["health"] == "error_page"


@pytest.mark.parametrize(
    "head",
    [
        b'<meta charset="utf-8">',
        b"<meta charset='UTF-8'/>",
        b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
        b"<meta charset=utf8>",
        b'<meta charset="utf-16">',
        b'<meta charset="iso-8859-1">',
        b'<!-- charset=utf-8 --><meta charset="latin1">',
        b'<meta charset="utf-8x">',
        b"",
        b'<?xml version="1.0" encoding="iso-8859-1"?><meta charset="utf-8">',
    ],
)
def test_declared_encoding_fast_path_agrees_with_w3lib(head: bytes) -> None:
    from w3lib.encoding import html_body_declared_encoding

    from pricehawk.extraction.page import _declared_encoding

    page = b"<html><head>" + head + b"</head><body><p>caf\xc3\xa9</p></body></html>"
    assert _declared_encoding(page) == html_body_declared_encoding(page)
