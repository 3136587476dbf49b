"""The console's SQL (reads only; the levers are in actions.py). Every function takes a
connection with dict rows and returns dataclasses from models.py, contact details masked.

Each query reads a bounded slice: a time window served by an index, a LIMIT, or a per-row
lookup by key, so that pages stay fast with tens of millions of observations.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pricehawk.console.masking import mask_contact, mask_email, mask_value, scrub
from pricehawk.console.metrics import timed_query
from pricehawk.console.models import (
    AnomalyRow,
    AuditEntry,
    CrawlHealth,
    Funnel,
    LastRun,
    Latency,
    OutboxHealth,
    OutboxRow,
    Overview,
    PricePoint,
    RetailerRow,
    SubscriberSummary,
    WorkerBeat,
)
from pricehawk.plans import plan_for

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# A due alert still pending after this long means the dispatchers are behind or down.
OVERDUE_AFTER = timedelta(minutes=5)
# A row claimed ('sending') for longer than this was probably abandoned by a crashed sender.
STUCK_AFTER = timedelta(minutes=5)
# Items per minute is measured over this recent window (one crawl interval's worth).
RATE_WINDOW = timedelta(minutes=15)
# Subscription statuses that are billed (Stripe's names).
BILLED = ("active", "trialing", "past_due")
CHURNED = ("canceled", "incomplete_expired", "unpaid")


def _one(conn: Any, sql: str, params: Any = None) -> dict[str, Any]:
    row = conn.execute(sql, params).fetchone()
    return dict(row) if row else {}


# --- overview -------------------------------------------------------------------------------


@timed_query
def crawl_health(conn: Any, window: timedelta = HOUR) -> CrawlHealth:
    """Outcomes, pages, items and blocks of the crawl runs started within `window`."""
    row = _one(
        conn,
        """SELECT count(*) AS runs,
                  count(*) FILTER (WHERE status = 'finished') AS finished,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'running') AS running,
                  coalesce(sum(pages), 0) AS pages, coalesce(sum(items), 0) AS items,
                  coalesce(sum(blocked), 0) AS blocked
             FROM crawl_runs WHERE started_at >= now() - %s""",
        (window,),
    )
    return CrawlHealth(window_s=int(window.total_seconds()), **{k: int(v) for k, v in row.items()})


@timed_query
def items_per_minute(conn: Any, window: timedelta = RATE_WINDOW) -> float:
    """Prices stored per minute over the recent window (every stored item is an observation)."""
    row = _one(
        conn,
        "SELECT count(*) AS n FROM price_observations WHERE observed_at >= now() - %s",
        (window,),
    )
    return int(row["n"]) / (window.total_seconds() / 60)


@timed_query
def funnel(conn: Any, window: timedelta = DAY) -> Funnel:
    """Anomalies flagged within `window`, what validation made of them, and what was sent."""
    row = _one(
        conn,
        """SELECT a.*, g.glitches, o.notifications, o.sent
             FROM (SELECT count(*) AS anomalies,
                          count(*) FILTER (WHERE status = 'new') AS pending,
                          count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
                          count(*) FILTER (WHERE status = 'rejected') AS rejected
                     FROM anomalies WHERE created_at >= now() - %(w)s) a,
                  (SELECT count(*) AS glitches
                     FROM glitches WHERE validated_at >= now() - %(w)s) g,
                  (SELECT count(*) AS notifications,
                          count(*) FILTER (WHERE status = 'sent') AS sent
                     FROM notification_outbox WHERE created_at >= now() - %(w)s) o""",
        {"w": window},
    )
    return Funnel(window_s=int(window.total_seconds()), **{k: int(v) for k, v in row.items()})


@timed_query
def latency(conn: Any, window: timedelta = DAY) -> Latency:
    """p50/p99 seconds from observing a glitch's price to its first delivered alert."""
    row = _one(
        conn,
        """SELECT count(*) AS samples,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY s) AS p99
             FROM (SELECT extract(epoch FROM f.first_sent - g.observed_at) AS s
                     FROM glitches g
                     -- one index probe per glitch (a join would scan every sent row)
                     CROSS JOIN LATERAL (
                          SELECT min(o.sent_at) AS first_sent FROM notification_outbox o
                           WHERE o.glitch_id = g.id AND o.status = 'sent') f
                    WHERE g.validated_at >= now() - %s AND f.first_sent IS NOT NULL) t""",
        (window,),
    )
    return Latency(
        int(row["samples"]),
        None if row["p50"] is None else float(row["p50"]),
        None if row["p99"] is None else float(row["p99"]),
    )


@timed_query
def outbox_health(conn: Any) -> OutboxHealth:
    """The outbox's backlog: due, overdue, scheduled, stuck, failed, dead, needing review."""
    # One scalar subquery per state, each matching a partial index's predicate.
    row = _one(
        conn,
        """SELECT
             (SELECT count(*) FROM notification_outbox
               WHERE status = 'pending' AND due_at <= now()) AS due,
             (SELECT count(*) FROM notification_outbox
               WHERE status = 'pending' AND due_at <= now() - %(overdue)s) AS overdue,
             (SELECT count(*) FROM notification_outbox
               WHERE status = 'pending' AND due_at > now()) AS scheduled,
             (SELECT count(*) FROM notification_outbox
               WHERE status = 'sending' AND claimed_at < now() - %(stuck)s) AS stuck,
             (SELECT count(*) FROM notification_outbox WHERE status = 'failed') AS failed,
             (SELECT count(*) FROM notification_outbox WHERE status = 'dead') AS dead,
             (SELECT count(*) FROM notification_outbox WHERE status = 'review') AS review""",
        {"overdue": OVERDUE_AFTER, "stuck": STUCK_AFTER},
    )
    return OutboxHealth(**{k: int(v) for k, v in row.items()})


@timed_query
def oldest_new_anomaly_age(conn: Any) -> float | None:
    """Seconds the oldest anomaly has waited for validation (None: nothing waiting)."""
    row = _one(
        conn,
        """SELECT extract(epoch FROM now() - min(created_at)) AS age
             FROM anomalies WHERE status = 'new'""",
    )
    return None if row.get("age") is None else float(row["age"])


@timed_query
def workers(conn: Any) -> list[WorkerBeat]:
    """Every worker's last heartbeat and its age."""
    rows = conn.execute(
        """SELECT worker, role, beat_at, extract(epoch FROM now() - beat_at) AS age_s
             FROM worker_heartbeats ORDER BY role, worker"""
    ).fetchall()
    return [WorkerBeat(r["worker"], r["role"], r["beat_at"], float(r["age_s"])) for r in rows]


def overview(conn: Any) -> Overview:
    """Everything the Overview page shows."""
    return Overview(
        crawl=crawl_health(conn),
        items_per_minute=items_per_minute(conn),
        funnel=funnel(conn),
        latency=latency(conn),
        outbox=outbox_health(conn),
        oldest_new_anomaly_s=oldest_new_anomaly_age(conn),
        workers=workers(conn),
    )


# --- retailers ------------------------------------------------------------------------------


def _numbers(value: Any, *, skip: tuple[str, ...] = ()) -> dict[str, float]:
    """The numeric entries of a JSON object (crawl_runs.failures / stats)."""
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in skip
    }


@timed_query
def retailers(conn: Any, window: timedelta = DAY) -> list[RetailerRow]:
    """Per retailer: state, breaker, last run, the window's runs, failures and proxy stats."""
    rows = conn.execute(
        """SELECT r.id, r.slug, r.name, r.fetch_mode, r.paused, r.circuit_state, r.failed_runs,
                  r.circuit_retry_at, r.crawl_interval_s, r.last_crawl_at, r.last_success_at,
                  lr.status AS lr_status, lr.started_at AS lr_started_at,
                  lr.finished_at AS lr_finished_at, lr.pages AS lr_pages, lr.items AS lr_items,
                  lr.blocked AS lr_blocked, lr.stats AS lr_stats,
                  w.runs, w.failed, w.pages, w.items, w.blocked, w.failures
             FROM retailers r
             LEFT JOIN LATERAL (
                  SELECT status, started_at, finished_at, pages, items, blocked, stats
                    FROM crawl_runs c WHERE c.retailer_id = r.id
                   ORDER BY started_at DESC LIMIT 1) lr ON true
             LEFT JOIN LATERAL (
                  SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed,
                         coalesce(sum(pages), 0) AS pages, coalesce(sum(items), 0) AS items,
                         coalesce(sum(blocked), 0) AS blocked,
                         coalesce(jsonb_agg(failures) FILTER (WHERE failures <> '{}'), '[]')
                           AS failures
                    FROM crawl_runs c
                   WHERE c.retailer_id = r.id AND c.started_at >= now() - %s) w ON true
            ORDER BY r.slug""",
        (window,),
    ).fetchall()
    # Products per retailer, their newest price and their fetch errors in one scan of products
    # (one index scan per retailer costs more once retailers have 10k products each).
    errors: dict[int, dict[str, int]] = defaultdict(dict)
    counts: dict[int, int] = defaultdict(int)
    newest: dict[int, datetime] = {}
    for e in conn.execute(
        """SELECT retailer_id, left(last_fetch_error, 80) AS reason, count(*) AS n,
                  max(last_observed_at) AS last_price_at
             FROM products GROUP BY 1, 2 ORDER BY 3 DESC"""
    ).fetchall():
        rid = e["retailer_id"]
        counts[rid] += int(e["n"])
        if e["last_price_at"] is not None:
            newest[rid] = max(newest.get(rid, e["last_price_at"]), e["last_price_at"])
        if e["reason"] is not None:
            key = scrub(e["reason"], 80)
            errors[rid][key] = errors[rid].get(key, 0) + int(e["n"])
    out = []
    for r in rows:
        failures: dict[str, int] = defaultdict(int)
        # crawl_runs.failures is {reason: count}; 'exit' is a process status, not a count.
        for f in r["failures"] or []:
            for reason, n in _numbers(f, skip=("exit",)).items():
                failures[reason] += int(n)
        if r["failed"]:
            failures["run failed"] += int(r["failed"])
        last = None
        if r["lr_status"] is not None:
            last = LastRun(
                r["lr_status"],
                r["lr_started_at"],
                r["lr_finished_at"],
                r["lr_pages"],
                r["lr_items"],
                r["lr_blocked"],
            )
        proxy = {k: v for k, v in _numbers(r["lr_stats"] or {}).items() if "proxy" in k.lower()}
        out.append(
            RetailerRow(
                id=r["id"],
                slug=r["slug"],
                name=r["name"],
                fetch_mode=r["fetch_mode"],
                paused=r["paused"],
                circuit_state=r["circuit_state"],
                failed_runs=r["failed_runs"],
                circuit_retry_at=r["circuit_retry_at"],
                crawl_interval_s=r["crawl_interval_s"],
                last_crawl_at=r["last_crawl_at"],
                last_success_at=r["last_success_at"],
                last_price_at=newest.get(r["id"]),
                products=counts.get(r["id"], 0),
                last_run=last,
                runs_24h=int(r["runs"] or 0),
                failed_24h=int(r["failed"] or 0),
                pages_24h=int(r["pages"] or 0),
                items_24h=int(r["items"] or 0),
                blocked_24h=int(r["blocked"] or 0),
                failures=dict(sorted(failures.items(), key=lambda kv: -kv[1])),
                fetch_errors=errors.get(r["id"], {}),
                proxy=proxy,
            )
        )
    return out


@timed_query
def retailer_state(conn: Any, slug: str) -> dict[str, Any] | None:
    """The operator-visible state of one retailer (what an action's audit row records)."""
    row = conn.execute(
        """SELECT id, slug, paused, circuit_state, failed_runs, last_crawl_at
             FROM retailers WHERE slug = %s""",
        (slug,),
    ).fetchone()
    return dict(row) if row else None


# --- anomalies ------------------------------------------------------------------------------

ANOMALY_STATUSES = ("new", "confirmed", "rejected", "error")


@timed_query
def anomaly_feed(
    conn: Any,
    *,
    status: str | None = None,
    retailer: str | None = None,
    limit: int = 50,
) -> list[AnomalyRow]:
    """The newest anomalies (optionally of one status or retailer), with validator verdicts."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    if status:
        where.append("a.status = %(status)s")
        params["status"] = status
    if retailer:
        where.append("r.slug = %(retailer)s")
        params["retailer"] = retailer
    rows = conn.execute(
        f"""SELECT a.id, a.product_id, r.slug AS retailer, coalesce(p.title, '') AS title, p.url,
                   a.observed_at, a.price, a.baseline, a.list_price, a.currency, a.discount,
                   a.confidence, a.glitch_type, a.scores, a.reasons, a.status, a.validated_at,
                   a.created_at, g.id AS glitch_id, g.status AS glitch_status, g.validator,
                   coalesce(g.reasoning, '') AS reasoning,
                   (SELECT coalesce(l.after ->> 'note', '') || ' (' || l.actor || ', '
                           || l.action || ')'
                      FROM audit_log l WHERE l.target = 'anomaly:' || a.id
                     ORDER BY l.at DESC LIMIT 1) AS operator_note
              FROM anomalies a
              JOIN products p ON p.id = a.product_id
              JOIN retailers r ON r.id = p.retailer_id
              LEFT JOIN glitches g ON g.anomaly_id = a.id
             {"WHERE " + " AND ".join(where) if where else ""}
             ORDER BY a.created_at DESC, a.id DESC
             LIMIT %(limit)s""",
        params,
    ).fetchall()
    return [
        AnomalyRow(
            **{
                **dict(r),
                "scores": dict(r["scores"] or {}),
                "reasons": list(r["reasons"] or []),
                "currency": str(r["currency"]).strip(),
                "operator_note": r["operator_note"] or "",
            }
        )
        for r in rows
    ]


@timed_query
def anomaly_state(conn: Any, anomaly_id: int) -> dict[str, Any] | None:
    """One anomaly's status and its glitch's (what an action's audit row records)."""
    row = conn.execute(
        """SELECT a.id, a.status, a.validated_at, g.id AS glitch_id, g.status AS glitch_status
             FROM anomalies a LEFT JOIN glitches g ON g.anomaly_id = a.id WHERE a.id = %s""",
        (anomaly_id,),
    ).fetchone()
    return dict(row) if row else None


@timed_query
def price_history(
    conn: Any, product_id: int, *, since: datetime | None = None, limit: int = 2000
) -> list[PricePoint]:
    """A product's newest observations (oldest first), at most `limit` of them."""
    rows = conn.execute(
        f"""SELECT observed_at, price, list_price FROM price_observations
             WHERE product_id = %(id)s {"AND observed_at >= %(since)s" if since else ""}
             ORDER BY observed_at DESC LIMIT %(limit)s""",
        {"id": product_id, "since": since, "limit": limit},
    ).fetchall()
    return [PricePoint(r["observed_at"], r["price"], r["list_price"]) for r in reversed(rows)]


# --- notifications --------------------------------------------------------------------------

ATTENTION = ("failed", "dead", "review")


@timed_query
def notification_breakdown(conn: Any, window: timedelta = DAY) -> list[dict[str, Any]]:
    """Outbox rows created within `window`, counted by tier, channel and status."""
    rows = conn.execute(
        """SELECT tier, channel, status, count(*) AS n FROM notification_outbox
            WHERE created_at >= now() - %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        (window,),
    ).fetchall()
    return [{**dict(r), "n": int(r["n"])} for r in rows]


def _outbox_row(r: dict[str, Any]) -> OutboxRow:
    address = r.pop("address", None)
    email = r.pop("email", None)
    recipient = mask_contact(r["channel"], address) if address else ""
    if not recipient:
        recipient = mask_email(email) if email else "(public channel)"
    error = scrub(r.pop("last_error"))
    return OutboxRow(**r, error=error, recipient=recipient)


_OUTBOX_SELECT = """
SELECT o.id, o.glitch_id, o.alert_event_id, o.channel, o.tier, o.status, o.attempts, o.due_at,
       o.next_attempt_at, o.sent_at, o.created_at, o.last_error, u.email, c.address
  FROM notification_outbox o
  LEFT JOIN users u ON u.id = o.user_id
  LEFT JOIN notification_channels c ON c.user_id = o.user_id AND c.kind = o.channel
"""


@timed_query
def outbox_rows(
    conn: Any, statuses: tuple[str, ...] = ATTENTION, *, limit: int = 100
) -> list[OutboxRow]:
    """The newest outbox rows in these statuses, recipients masked, errors scrubbed."""
    rows = conn.execute(
        f"{_OUTBOX_SELECT} WHERE o.status = ANY(%s) ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
        (list(statuses), limit),
    ).fetchall()
    return [_outbox_row(dict(r)) for r in rows]


@timed_query
def outbox_row(conn: Any, outbox_id: int) -> OutboxRow | None:
    """One outbox row, masked."""
    row = conn.execute(f"{_OUTBOX_SELECT} WHERE o.id = %s", (outbox_id,)).fetchone()
    return _outbox_row(dict(row)) if row else None


# --- subscribers and revenue ----------------------------------------------------------------


def monthly_revenue(active: dict[tuple[str, str], int]) -> dict[str, Decimal]:
    """MRR by tier from billed subscription counts per (tier, billing cycle); an annual plan
    counts as a twelfth of its price each month."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for (tier, cycle), n in active.items():
        plan = plan_for(tier)
        monthly = plan.annual_usd / 12 if cycle == "annual" else plan.monthly_usd
        out[tier] += (monthly * n).quantize(Decimal("0.01"))
    return dict(out)


@timed_query
def subscriber_summary(conn: Any, window: timedelta = timedelta(days=30)) -> SubscriberSummary:
    """Subscribers and revenue: users by tier, billed subscriptions, MRR, churn, failed payments."""
    users: dict[str, int] = {}
    demo = 0
    for r in conn.execute(
        """SELECT tier, count(*) FILTER (WHERE NOT is_demo) AS n,
                  count(*) FILTER (WHERE is_demo) AS demo
             FROM users WHERE deleted_at IS NULL GROUP BY tier"""
    ).fetchall():
        users[r["tier"]] = int(r["n"])
        demo += int(r["demo"])
    active: dict[tuple[str, str], int] = {}
    for r in conn.execute(
        """SELECT tier, billing_cycle, count(*) AS n FROM subscriptions
            WHERE status = ANY(%s) GROUP BY 1, 2""",
        (list(BILLED),),
    ).fetchall():
        active[(r["tier"], r["billing_cycle"])] = int(r["n"])
    row = _one(
        conn,
        """SELECT (SELECT count(*) FROM subscriptions
                    WHERE status = ANY(%(churned)s) AND updated_at >= now() - %(w)s) AS churned,
                  (SELECT count(*) FROM subscriptions WHERE status = 'past_due') AS past_due,
                  (SELECT count(*) FROM webhook_events
                    WHERE provider = 'stripe' AND event_type = 'invoice.payment_failed'
                      AND received_at >= now() - %(w)s) AS failed_payments""",
        {"churned": list(CHURNED), "w": window},
    )
    by_tier: dict[str, int] = defaultdict(int)
    for (tier, _cycle), n in active.items():
        by_tier[tier] += n
    billed = sum(by_tier.values())
    churned = int(row["churned"])
    return SubscriberSummary(
        users_by_tier=users,
        demo_users=demo,
        active_by_tier=dict(by_tier),
        mrr_by_tier=monthly_revenue(active),
        churned_30d=churned,
        # Churn over the window: ended subscriptions among those billed at its start
        # (approximated as billed now plus those that ended since).
        churn_rate_30d=None if billed + churned == 0 else churned / (billed + churned),
        past_due=int(row["past_due"]),
        failed_payments_30d=int(row["failed_payments"]),
    )


# --- audit log ------------------------------------------------------------------------------


@timed_query
def audit_entries(
    conn: Any,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    """The newest audit rows (optionally filtered), contact details masked."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    if actor:
        where.append("actor = %(actor)s")
        params["actor"] = actor
    if action:
        where.append("action LIKE %(action)s")
        params["action"] = action.replace("%", r"\%") + "%"
    if target:
        where.append("target = %(target)s")
        params["target"] = target
    rows = conn.execute(
        f"""SELECT id, at, actor, action, target, before, after FROM audit_log
             {"WHERE " + " AND ".join(where) if where else ""}
             ORDER BY at DESC, id DESC LIMIT %(limit)s""",
        params,
    ).fetchall()
    return [
        AuditEntry(
            r["id"],
            r["at"],
            scrub(r["actor"], 80),
            r["action"],
            scrub(r["target"], 120),
            mask_value(r["before"]),
            mask_value(r["after"]),
        )
        for r in rows
    ]
