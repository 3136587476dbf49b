"""Prometheus metrics of the console's data layer (pricehawk_console_*)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Histogram

QUERY_SECONDS = Histogram(
    "pricehawk_console_query_seconds",
    "Time the console spent in one data query (cache misses only).",
    ["query"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
QUERY_ERRORS = Counter(
    "pricehawk_console_query_errors_total", "Console data queries that raised.", ["query"]
)
ACTIONS = Counter(
    "pricehawk_console_actions_total",
    "Operator actions taken in the console, by outcome.",
    ["action", "outcome"],
)
SIGN_INS = Counter(
    "pricehawk_console_sign_ins_total", "Operator sign-in attempts, by outcome.", ["outcome"]
)

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def timed(query: str) -> Iterator[None]:
    """Observe the block's duration under `query`; count it as an error when it raises."""
    start = time.perf_counter()
    try:
        yield
    except Exception:
        QUERY_ERRORS.labels(query).inc()
        raise
    finally:
        QUERY_SECONDS.labels(query).observe(time.perf_counter() - start)


def timed_query(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator: time every call of a query function under its name."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with timed(func.__name__):
            return func(*args, **kwargs)

    return wrapper
