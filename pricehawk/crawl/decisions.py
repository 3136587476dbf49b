"""Pure crawl decisions: cycle keys, URL identity, robots.txt, backoff, bans, block rate, breaker.

Every function here takes plain values and returns plain values, so the crawler, the DAGs and
the tests share one definition of each rule.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

RobotsPolicy = Literal["parse", "allow_all", "disallow_all"]
CircuitState = Literal["closed", "open", "half_open"]

# Extraction health values that mean "the site is pushing back", as opposed to a page that
# simply has no price (no_price, ambiguous...). These trigger proxy failover and count toward
# the block rate.
BAN_HEALTH = frozenset({"blocked", "captcha"})
# Every health value that is not a price, counted per retailer with its reason.
BLOCK_HEALTH = frozenset({"blocked", "captcha", "login_wall", "consent", "empty_shell"})
# Statuses that mean "you, slow down or go away" rather than "this page is broken".
BAN_STATUSES = frozenset({403, 429})
# Statuses worth retrying (with backoff) on the same or the next proxy.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})


def cycle_key_for(scope: str, now: datetime, interval_s: int) -> str:
    """The key of the crawl cycle `now` falls in: `<scope>-<UTC start of the interval>`.

    Calling it twice within one interval gives the same key, so a retried DAG task queues into
    the same cycle (and its de-duplication set) instead of starting a new one.
    """
    interval = max(1, int(interval_s))
    start = math.floor(now.timestamp() / interval) * interval
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{scope}-{stamp}"


def canonical_url(url: str) -> str:
    """The identity of a URL within a cycle: scheme and host lowercased, default port,
    fragment and query order dropped. Two spellings of one page are fetched once."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def robots_policy(status: int | None) -> RobotsPolicy:
    """What a robots.txt fetch means, per RFC 9309 section 2.3.1.

    2xx: parse the rules. 4xx ("unavailable"): crawl anything. 5xx or no answer at all
    ("unreachable"): crawl nothing until it recovers. 429 is a 4xx but says "slow down", so,
    like Google, we treat it as unreachable rather than as permission. A redirect chain that
    never reached a file (status 3xx here) counts as unavailable (section 2.3.1.2).
    """
    if status is None:
        return "disallow_all"
    if 200 <= status < 300:
        return "parse"
    if status == 429:
        return "disallow_all"
    if 300 <= status < 500:
        return "allow_all"
    return "disallow_all"


def robots_cache_seconds(policy: RobotsPolicy, *, recheck_s: float = 30.0) -> float:
    """How long a robots.txt answer is trusted: a day at most (RFC 9309 2.4), and only a
    short while when the file was unreachable, so crawling resumes soon after it recovers."""
    return recheck_s if policy == "disallow_all" else 24 * 3600.0


def robots_allows(policy: RobotsPolicy, body: str, user_agent: str, url: str) -> bool:
    """Whether `url` may be fetched under a robots.txt answer."""
    if policy == "allow_all":
        return True
    if policy == "disallow_all":
        return False
    return bool(_parsed_robots(body).can_fetch(url, user_agent))


@functools.lru_cache(maxsize=64)
def _parsed_robots(body: str) -> Any:
    """A robots.txt parsed once per body, not once per request (read-only afterwards)."""
    from protego import Protego

    return Protego.parse(body)


def robots_agent_token(user_agent: str) -> str:
    """The product token robots.txt groups match against (`PriceHawkBot/0.1 (+...)` -> name)."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0] or "*"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks us to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(
    attempt: int, *, base_s: float = 1.0, cap_s: float = 60.0, retry_after_s: float | None = None
) -> float:
    """Seconds before retry number `attempt` (1-based): base * 2^(attempt-1), capped, but never
    sooner than the server's Retry-After (which the cap does not shorten)."""
    exponential = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    return max(exponential, retry_after_s or 0.0)


def next_free_slot(now: float, next_free_at: float, delay_s: float) -> tuple[float, float]:
    """Shared per-retailer spacing: (seconds this request waits, the next free time).

    Every worker asks Redis (which runs this same rule atomically) before a download, so the
    retailer sees at most one request per `delay_s` across the whole cluster.
    """
    start = max(now, next_free_at)
    return start - now, start + delay_s


def block_rate_action(
    blocked: int,
    pages: int,
    *,
    threshold: float,
    min_pages: int,
    factor: float,
    max_factor: float = 8.0,
) -> tuple[float, bool]:
    """(new slowdown factor, flagged) for a retailer after a window of product pages.

    Over the threshold: double the delay (up to max_factor) and flag the retailer. Below half
    of it: halve the slowdown again. Too few pages: no change (one CAPTCHA is not a trend).
    """
    if pages < min_pages:
        return factor, factor > 1.0
    rate = blocked / pages
    if rate >= threshold:
        return min(max_factor, max(1.0, factor) * 2), True
    if rate < threshold / 2:
        new = max(1.0, factor / 2)
        return new, new > 1.0
    return factor, factor > 1.0


def run_failed(pages: int, items: int, blocked: int, failures: int) -> bool:
    """Whether a retailer's cycle counts as a failure for its circuit breaker: nothing could be
    fetched, or every product page fetched was a block page."""
    if pages == 0:
        return failures > 0 or items == 0
    return items > 0 and blocked >= items


def next_circuit(
    state: str,
    failed_runs: int,
    *,
    ok: bool,
    now: datetime,
    threshold: int = 3,
    base_s: float = 900.0,
    cap_s: float = 6 * 3600.0,
) -> tuple[CircuitState, int, datetime | None]:
    """(state, failed_runs, retry_at) after a run: `threshold` failures in a row open the
    circuit; an open circuit is tried again (half open) after a doubling wait; one good run
    closes it."""
    if ok:
        return "closed", 0, None
    failed = failed_runs + 1
    if state == "half_open" or failed >= threshold:
        wait = min(cap_s, base_s * 2 ** max(0, failed - threshold))
        return "open", failed, now + timedelta(seconds=wait)
    return "closed", failed, None
