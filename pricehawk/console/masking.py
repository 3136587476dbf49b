"""Contact details and free text as operators may see them: enough to tell rows apart, never
enough to contact (or impersonate) a subscriber. Pure functions."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers in international form, and bare runs of nine or more digits (chat ids);
# dates and times (digits with '-' and ':') are left alone.
_LONG_NUMBER = re.compile(r"\+\d[\d ().-]{6,}\d|\b\d{9,}\b")
_URL = re.compile(r"https?://[^\s'\"<>]+")
_SECRET_WORDS = re.compile(
    r"(?i)\b(token|secret|password|passwd|api[_-]?key|authorization|bearer|sig|signature)"
    r"(\s*[=:]\s*|\s+)((?:bearer\s+|basic\s+)?[^\s,;&'\"]+)"
)


def mask_email(address: str) -> str:
    """`alice@example.com` -> `a***@e***.com`."""
    local, at, domain = address.strip().partition("@")
    if not at:
        return mask_text_id(address)
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_host = (host[:1] + "***") if host else "***"
    return f"{local[:1]}***@{masked_host}{'.' + tld if tld else ''}"


def mask_phone(number: str) -> str:
    """`+14155550123` -> `+1••••••0123`: country code and the last four digits only."""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 4:
        return "•" * len(digits)
    lead = "+" + digits[:1] if number.strip().startswith("+") else ""
    hidden = len(digits) - 4 - (1 if lead else 0)
    return f"{lead}{'•' * max(hidden, 0)}{digits[-4:]}"


def mask_text_id(value: str) -> str:
    """Any other identifier (a chat id, a folder name): its last three characters."""
    value = value.strip()
    if len(value) <= 3:
        return "•" * len(value)
    return "•" * min(len(value) - 3, 8) + value[-3:]


def mask_url(url: str) -> str:
    """A URL reduced to scheme and host: paths of webhooks and query strings carry secrets."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return mask_text_id(url)
    return f"{parts.scheme}://{parts.hostname}/…"


def mask_contact(kind: str, address: str | None) -> str:
    """A channel address (email, sms, whatsapp, telegram, discord, file) as operators see it."""
    if not address:
        return ""
    if kind == "email" or ("@" in address and kind != "discord"):
        return mask_email(address)
    if kind in ("sms", "whatsapp") or re.fullmatch(r"(whatsapp:)?\+[\d ().-]{6,}", address):
        return mask_phone(address.removeprefix("whatsapp:"))
    if kind == "discord" or address.startswith(("http://", "https://")):
        return mask_url(address)
    return mask_text_id(address)


def scrub(text: str | None, limit: int = 300) -> str:
    """Free text (provider errors, reasons) with emails, long numbers, URLs and anything
    following a secret-looking word masked, cut to `limit` characters."""
    if not text:
        return ""
    out = _SECRET_WORDS.sub(lambda m: f"{m.group(1)}{m.group(2)}****", text)
    out = _URL.sub(lambda m: mask_url(m.group(0)), out)
    out = _EMAIL.sub(lambda m: mask_email(m.group(0)), out)
    out = _LONG_NUMBER.sub(lambda m: mask_phone(m.group(0)), out)
    return out if len(out) <= limit else out[: limit - 1] + "…"


_SENSITIVE_KEYS = ("email", "phone", "address", "to", "token", "secret", "password", "key")


def mask_value(value: object, key: str = "") -> object:
    """A JSON value (an audit row's before/after) with contact details and secrets masked."""
    if isinstance(value, dict):
        return {k: mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, key) for v in value]
    if isinstance(value, str):
        lowered = key.lower()
        if any(word in lowered for word in ("token", "secret", "password")):
            return "****" if value else ""
        if any(word == lowered or lowered.endswith("_" + word) for word in _SENSITIVE_KEYS):
            return mask_contact("email" if "@" in value else "", value)
        return scrub(value, limit=500)
    return value
