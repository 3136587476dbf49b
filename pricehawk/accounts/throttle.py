"""Login throttling policy (pure): how many failures a key may have, and for how long it
is then locked.

Three scopes: `ip` (one client address, any accounts: stops one machine trying many
accounts), `account` (one email as typed, from browsers that never signed in to it: stops
many machines trying one account), and `device` (one trusted-device cookie: a browser that
signed in before has its own counter, so an attack on the account does not lock it out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta
    lock: timedelta


LIMITS: dict[str, Limit] = {
    "ip": Limit(30, timedelta(minutes=15), timedelta(minutes=15)),
    "account": Limit(5, timedelta(minutes=15), timedelta(minutes=15)),
    "device": Limit(10, timedelta(minutes=15), timedelta(minutes=15)),
}


@dataclass(frozen=True)
class Counter:
    failures: int
    window_started_at: datetime
    locked_until: datetime | None


def is_locked(counter: Counter | None, now: datetime) -> bool:
    """Whether a key is locked out right now."""
    return bool(counter and counter.locked_until and counter.locked_until > now)


def after_failure(counter: Counter | None, now: datetime, limit: Limit) -> Counter:
    """The counter after one more failure: a new window when the old one has passed, and a
    lock once the window holds `limit.failures` failures."""
    if counter is None or now - counter.window_started_at >= limit.window:
        counter = Counter(0, now, None)
    failures = counter.failures + 1
    locked_until = counter.locked_until
    if failures >= limit.failures:
        locked_until = now + limit.lock
        # the lock starts a fresh window: after it, the key gets a full allowance again
        return Counter(0, now, locked_until)
    return Counter(failures, counter.window_started_at, locked_until)


def retry_after(counters: list[Counter | None], now: datetime) -> int:
    """Seconds until every lock among these counters has ended (0: none is locked)."""
    ends = [c.locked_until for c in counters if c and c.locked_until and c.locked_until > now]
    return int((max(ends) - now).total_seconds()) + 1 if ends else 0
