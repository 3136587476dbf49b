"""Sorting a provider's failure into: not taken (retry), refused (fail), or unknown (review).

The rule every channel follows: retry only what the provider certainly did not accept — the
connection never opened, or it answered 429 or 5xx. A 4xx is a permanent refusal. Anything
that may have reached the provider without an answer reaching us (a read timeout, a dropped
connection after the request went out) is unknown and must never be sent blindly again.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from pricehawk.notifications.models import SendResult


def retry_after(
    headers: Mapping[str, str] | None, body_seconds: float | None = None
) -> float | None:
    """Seconds the provider asked us to wait (Retry-After header or its JSON body)."""
    if body_seconds is not None:
        return float(body_seconds)
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def from_status(
    status: int, detail: str, *, wait_s: float | None = None, provider: str = ""
) -> SendResult:
    """A provider's non-success HTTP answer as a SendResult."""
    text = f"{provider} {status}: {detail}".strip()[:500]
    if status == 429 or status >= 500:
        return SendResult(False, error=text, retryable=True, retry_after_s=wait_s)
    return SendResult(False, error=text)


def from_httpx(exc: httpx.HTTPError, provider: str) -> SendResult:
    """An httpx transport error: connect-phase failures are retryable, the rest unknown."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return SendResult(False, error=f"{provider}: not connected: {exc!r}"[:500], retryable=True)
    return SendResult(False, error=f"{provider}: no answer: {exc!r}"[:500], unknown=True)
