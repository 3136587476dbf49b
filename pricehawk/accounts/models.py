"""Account records as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class User:
    id: int
    email: str
    password_hash: str | None
    email_verified_at: datetime | None
    tier: str
    created_at: datetime

    @property
    def verified(self) -> bool:
        return self.email_verified_at is not None


@dataclass(frozen=True)
class Session:
    id: str  # the digest stored in the database, never the cookie value
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Email:
    """An account email waiting to be sent (sent after the transaction commits)."""

    to: str
    subject: str
    text: str
    kind: str
