"""A real forward proxy on loopback (the proxy.py package), for proxy rotation tests.

Each instance stamps the requests it forwards with `X-Sandbox-Proxy: <tag>`, so the demo shop
can play a site that has banned some proxies (DemoShop.require_proxy) and tests can tell which
proxy a page came through.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import proxy
from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin


class TagPlugin(HttpProxyBasePlugin):
    """Adds X-Sandbox-Proxy: <the instance's tag> to every forwarded request."""

    tag = "proxy"

    def handle_client_request(self, request: HttpParser) -> HttpParser | None:
        request.add_header(b"X-Sandbox-Proxy", self.tag.encode())
        return request


class ForwardProxy:
    """proxy.py listening on a free loopback port; start() / stop() or a `with` block."""

    def __init__(self, tag: str = "proxy") -> None:
        self.tag = tag
        self.proxy = proxy.Proxy(
            ["--port", "0", "--num-acceptors", "1", "--num-workers", "1", "--threaded"],
            hostname=ipaddress.IPv4Address("127.0.0.1"),
            # one plugin class per instance: proxy.py builds plugins per connection
            plugins=[type(f"TagPlugin_{tag}", (TagPlugin,), {"tag": tag})],
        )

    def start(self) -> ForwardProxy:
        self.proxy.setup()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.flags.port}"

    def stop(self) -> None:
        self.proxy.shutdown()

    def __enter__(self) -> ForwardProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
