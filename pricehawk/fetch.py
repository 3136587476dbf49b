"""One-off polite fetches (on-demand tracking, the validator's re-fetch, `pricehawk extract`).

robots.txt follows RFC 9309: a 4xx robots.txt means no rules (allow all); a 5xx or an unreachable
robots.txt means disallow all (section 2.3.1.4); redirects are followed (at least five hops,
2.3.1.2); parsing is protego's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx
from protego import Protego

# RFC 9309 2.5: crawlers SHOULD NOT use a cached robots.txt for more than 24 h; we keep none at
# all between calls (one-off fetches), so no cache lives here.
_MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 2.5: parse at least 500 KiB
_MAX_REDIRECTS = 5


class FetchError(Exception):
    """A page could not be fetched; the message says why, for a person to read."""


class RobotsDisallowed(FetchError):  # noqa: N818 - the name other apps already import
    """robots.txt does not allow our User-Agent to fetch this URL."""


@dataclass(frozen=True)
class FetchResult:
    """A fetched page: the final URL (after redirects), status, headers and decoded text."""

    url: str
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    content: bytes = b""


def robots_url(url: str) -> str:
    """The robots.txt URL for a page URL (same scheme, host and port)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def robots_allows(status: int | None, body: str, url: str, user_agent: str) -> bool:
    """RFC 9309 decision from a robots.txt response (None status: unreachable)."""
    if status is None or status >= 500:
        return False
    if 400 <= status < 500:
        return True
    if not 200 <= status < 300:
        return False  # an unfollowed 3xx: treat as unreachable
    parser = Protego.parse(body)
    return bool(parser.can_fetch(url, _product_token(user_agent)))


def _product_token(user_agent: str) -> str:
    """RFC 9309 2.2.1: match on the product token ("PriceHawkBot" of "PriceHawkBot/0.1 (...)")."""
    token = user_agent.strip().split("/", 1)[0].split(" ", 1)[0]
    return token or user_agent


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")


def _check_robots(client: httpx.Client, url: str, user_agent: str) -> None:
    rurl = robots_url(url)
    status: int | None
    try:
        resp = client.get(rurl)
        status = resp.status_code
        body = resp.content[:_MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    except httpx.TooManyRedirects:
        # RFC 9309 2.3.1.2: past five redirects the file may be treated as unavailable (4xx).
        status, body = 404, ""
    except httpx.HTTPError:
        status, body = None, ""
    if not robots_allows(status, body, url, user_agent):
        reason = (
            "robots.txt unreachable (RFC 9309: disallow all)"
            if status is None or status >= 500
            else "robots.txt disallows it"
        )
        raise RobotsDisallowed(f"not fetching {url}: {reason} for {_product_token(user_agent)}")


def fetch(
    url: str, *, user_agent: str, timeout: float = 15.0, respect_robots: bool = True
) -> FetchResult:
    """GET one page politely; raises FetchError (RobotsDisallowed when robots.txt says no)."""
    _check_url(url)
    if not user_agent.strip():
        raise FetchError("a User-Agent identifying us is required")
    headers = {
        "User-Agent": user_agent,
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
    }
    try:
        with httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=_MAX_REDIRECTS,
        ) as client:
            if respect_robots:
                _check_robots(client, url, user_agent)
            resp = client.get(url)
            final = str(resp.url)
            if respect_robots and final != url and urlsplit(final).netloc != urlsplit(url).netloc:
                # A redirect to another host falls under that host's robots.txt.
                _check_robots(client, final, user_agent)
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout:g}s fetching {url}") from exc
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"too many redirects fetching {url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"could not fetch {url}: {exc.__class__.__name__}: {exc}") from exc
    return FetchResult(
        url=final,
        status=resp.status_code,
        headers=dict(resp.headers),
        text=resp.text,
        content=resp.content,
    )
