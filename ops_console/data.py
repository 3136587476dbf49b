"""The console's data layer: settings, the pool (st.cache_resource), cached queries
(st.cache_data with a short TTL, shared by every operator's session), sign-in, and the
action runner the pages' buttons call. Pages hold no SQL and no business rules.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from pricehawk import db
from pricehawk.console import actions, queries, queues
from pricehawk.console import airflow as airflow_api
from pricehawk.console.masking import scrub
from pricehawk.console.models import (
    AnomalyRow,
    AuditEntry,
    OutboxRow,
    Overview,
    PricePoint,
    RetailerRow,
    SubscriberSummary,
)
from pricehawk.metrics import MetricsServer, start_metrics_server
from pricehawk.operators import Operator, sign_in
from pricehawk.settings import SETTINGS, Settings, load_settings

log = logging.getLogger(__name__)

# Data at most this old is shown; many operators watching the same page cost one query.
CACHE_TTL_S = 10
# A console session lasts a working shift at most, then signs in again.
SESSION_MAX_S = 12 * 3600


# --- resources ------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _settings(env: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(env))


def settings() -> Settings:
    """Settings from this process's environment (re-read when it changes: tests do that)."""
    names = {s.env for s in SETTINGS}
    return _settings(tuple(sorted((k, v) for k, v in os.environ.items() if k in names)))


@st.cache_resource(show_spinner=False)
def _pool(url: str) -> Any:
    return db.make_pool(url, min_size=1, max_size=4)


@st.cache_resource(show_spinner=False)
def _database_url(s: Settings) -> str:
    return db.database_url(s)


def database_url() -> str:
    """The database the console reads (the embedded one is started once per process)."""
    return _database_url(settings())


def pool() -> Any:
    """The shared connection pool."""
    return _pool(database_url())


@st.cache_resource(show_spinner=False)
def _redis(s: Settings) -> Any:
    from pricehawk.redis_conn import connect_redis

    return connect_redis(s)


@st.cache_resource(show_spinner=False)
def _metrics_server(port: int) -> MetricsServer | None:
    # Readiness (/readyz) is PostgreSQL through the pages' own pool.
    return start_metrics_server(settings(), "console", pool=pool(), port=port)


def start_metrics() -> MetricsServer | None:
    """Serve /metrics (pricehawk_console_*), /healthz and /readyz on
    PRICEHAWK_CONSOLE_METRICS_PORT (0: not served); once per process (app.py's lifespan)."""
    port = settings().console_metrics_port
    if port <= 0:
        return None
    try:
        return _metrics_server(port)
    except OSError as exc:
        # e.g. a second console on this host: the UI still runs, without its own metrics
        log.warning("console: metrics port %s unavailable: %s", port, exc)
        return None


def refresh_s() -> int:
    """Seconds between refreshes of live views."""
    return max(2, settings().console_refresh_s)


def _read(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with db.transaction(pool()) as conn:
        conn.execute("SET LOCAL statement_timeout = '15s'")
        return fn(conn, *args, **kwargs)


# --- cached reads (the URL argument keys the cache per database) ----------------------------


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _overview(url: str) -> Overview:
    return _read(queries.overview)


def overview() -> Overview:
    """Overview numbers (cached briefly)."""
    return _overview(database_url())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _retailers(url: str) -> list[RetailerRow]:
    return _read(queries.retailers)


def retailers() -> list[RetailerRow]:
    """Retailer rows (cached briefly)."""
    return _retailers(database_url())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _anomalies(url: str, status: str | None, retailer: str | None, limit: int) -> list[AnomalyRow]:
    return _read(queries.anomaly_feed, status=status, retailer=retailer, limit=limit)


def anomalies(status: str | None, retailer: str | None, limit: int = 20) -> list[AnomalyRow]:
    """The anomaly feed (cached briefly)."""
    return _anomalies(database_url(), status, retailer, limit)


@st.cache_data(ttl=60, show_spinner=False)
def _history(url: str, product_id: int) -> list[PricePoint]:
    return _read(queries.price_history, product_id, limit=500)


def history(product_id: int) -> list[PricePoint]:
    """A product's recent prices (cached for a minute: history does not change)."""
    return _history(database_url(), product_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _breakdown(url: str) -> list[dict[str, Any]]:
    return _read(queries.notification_breakdown)


def notification_breakdown() -> list[dict[str, Any]]:
    """Outbox counts by tier, channel, status (cached briefly)."""
    return _breakdown(database_url())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _outbox_rows(url: str, statuses: tuple[str, ...], limit: int) -> list[OutboxRow]:
    return _read(queries.outbox_rows, statuses, limit=limit)


def outbox_rows(statuses: tuple[str, ...] = queries.ATTENTION, limit: int = 100) -> list[OutboxRow]:
    """Outbox rows in these statuses, masked (cached briefly)."""
    return _outbox_rows(database_url(), statuses, limit)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _subscribers(url: str) -> SubscriberSummary:
    return _read(queries.subscriber_summary)


def subscribers() -> SubscriberSummary:
    """Subscriber and revenue summary (cached briefly)."""
    return _subscribers(database_url())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _audit(
    url: str, actor: str | None, action: str | None, target: str | None, limit: int
) -> list[AuditEntry]:
    return _read(queries.audit_entries, actor=actor, action=action, target=target, limit=limit)


def audit(
    actor: str | None = None, action: str | None = None, target: str | None = None, limit: int = 200
) -> list[AuditEntry]:
    """Audit rows, newest first (cached briefly)."""
    return _audit(database_url(), actor, action, target, limit)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _queue_depths(s: Settings) -> tuple[list[queues.QueueDepth] | None, str]:
    try:
        return queues.queue_depths(_redis(s), s.redis_prefix), ""
    except Exception as exc:  # noqa: BLE001 - any Redis failure is shown, not raised
        return None, f"Redis is unreachable: {type(exc).__name__}"


def queue_depths() -> tuple[list[queues.QueueDepth] | None, str]:
    """Redis queue depths, or (None, why not)."""
    return _queue_depths(settings())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _airflow(s: Settings) -> tuple[list[Any], list[Any], str]:
    client = airflow_api.client_for(s)
    if client is None:
        return [], [], "not configured"
    try:
        return client.dags(), client.recent_runs(limit=50), ""
    except airflow_api.AirflowError as exc:
        return [], [], str(exc)
    finally:
        client.close()


def airflow_state() -> tuple[list[Any], list[Any], str]:
    """(DAGs, recent runs, error) from Airflow's API; error 'not configured' when unset."""
    return _airflow(settings())


def clear_caches() -> None:
    """Forget cached reads (after an action, so the page shows its effect at once)."""
    st.cache_data.clear()


# --- sign-in --------------------------------------------------------------------------------


def current_operator() -> Operator | None:
    """The signed-in operator of this session (None when signed out or expired)."""
    op = st.session_state.get("operator")
    started = st.session_state.get("signed_in_at", 0.0)
    if op is None:
        return None
    if time.time() - started > SESSION_MAX_S:
        sign_out()
        return None
    return op


def require_operator() -> Operator:
    """The signed-in operator, or stop the page (pages never render for anonymous sessions)."""
    op = current_operator()
    if op is None:
        st.warning("Sign in to use the console.")
        st.stop()
    assert op is not None
    # Drawn by each page (not app.py) so that every page run, fragment reruns aside, has it.
    with st.sidebar:
        st.caption(f"Signed in as **{op.username}** ({op.role})")
        st.button("Sign out", on_click=sign_out, key="sign_out")
    return op


def do_sign_in(username: str, password: str) -> str:
    """Check credentials and start the session; returns an error message ('' on success)."""
    if not username or not password:
        return "Enter a username and a password."
    from pricehawk.console.metrics import SIGN_INS

    with db.transaction(pool()) as conn:
        result = sign_in(conn, username, password, datetime.now(UTC))
    SIGN_INS.labels("ok" if result.operator else "failed").inc()
    if result.operator is None:
        return result.error
    st.session_state["operator"] = result.operator
    st.session_state["signed_in_at"] = time.time()
    return ""


def sign_out() -> None:
    """End this session."""
    op = st.session_state.pop("operator", None)
    st.session_state.pop("signed_in_at", None)
    if op is not None:
        with db.transaction(pool()) as conn:
            actions.audit(conn, op.actor, "operator.sign_out", f"operator:{op.username}")


# --- actions --------------------------------------------------------------------------------


def act(
    fn: Callable[..., actions.ActionResult],
    *args: Any,
    with_settings: bool = False,
    note_key: str = "",
) -> None:
    """Run an action for the signed-in operator (a button's on_click, so it runs before the
    page re-renders and the page shows its effect); the outcome shows at the top.

    `note_key` names a text input whose value (read now, not when the button was drawn) is
    the operator's note for the audit log.
    """
    op = current_operator()
    if op is None:
        st.session_state["flash"] = (False, "Your session ended; sign in again.")
        return
    extra = (st.session_state.get(note_key) or "",) if note_key else ()
    try:
        if with_settings:
            result = fn(pool(), settings(), op, *args, *extra)
        else:
            result = fn(pool(), op, *args, *extra)
    except actions.NotAllowedError as exc:
        result = actions.ActionResult(False, str(exc))
    except Exception as exc:  # shown to the operator (scrubbed), logged in full
        log.exception("console action %s failed", getattr(fn, "__name__", fn))
        result = actions.ActionResult(False, f"Failed: {type(exc).__name__}: {scrub(str(exc))}")
    st.session_state["flash"] = (result.ok, result.message)
    clear_caches()


def trigger_dag(pool_: Any, op: Operator, dag_id: str) -> actions.ActionResult:
    """Trigger a DAG through the configured Airflow API."""
    client = airflow_api.client_for(settings())
    if client is None:
        return actions.ActionResult(False, "Airflow is not configured.")
    try:
        return actions.trigger_dag(pool_, client, op, dag_id)
    finally:
        client.close()


def show_flash() -> None:
    """Show (once) the outcome of the last action."""
    flash = st.session_state.pop("flash", None)
    if flash:
        ok, message = flash
        (st.success if ok else st.error)(message)


# --- formatting -----------------------------------------------------------------------------


def pct(x: float | None) -> str:
    """0.123 -> '12.3%'; None -> '—'."""
    return "—" if x is None else f"{x:.1%}"


def secs(x: float | None) -> str:
    """Seconds as '850 ms', '12.3 s', '4.2 min', '3.1 h'; None -> '—'."""
    if x is None:
        return "—"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    if x < 120:
        return f"{x:.1f} s"
    if x < 7200:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.1f} h"


def ago(ts: datetime | None) -> str:
    """How long ago, e.g. '3.2 min ago'; None -> 'never'."""
    if ts is None:
        return "never"
    return secs((datetime.now(UTC) - ts).total_seconds()) + " ago"


def updated_caption() -> None:
    """When the numbers were read, and how often they refresh."""
    st.caption(
        f"Updated {datetime.now(UTC):%H:%M:%S} UTC · refreshes every {refresh_s()} s"
        f" · cached up to {CACHE_TTL_S} s"
    )
