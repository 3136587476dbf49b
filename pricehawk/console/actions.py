"""The console's levers. Each one checks the operator may act, changes state, and writes an
audit-log row (who, what, when, before, after) — a refused attempt is audited too.

Where another domain owns the state machine (the outbox), its own functions make the change
and write the audit row; this module only adds the permission check and the metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from pricehawk.console import queries
from pricehawk.console.metrics import ACTIONS
from pricehawk.db import transaction
from pricehawk.operators import Operator
from pricehawk.settings import Settings


class NotAllowedError(PermissionError):
    """This operator's role may only look."""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def audit(
    conn: Any,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> int:
    """Write one audit-log row; returns its id."""
    row = conn.execute(
        """INSERT INTO audit_log (actor, action, target, before, after)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
        (
            actor,
            action,
            target,
            None if before is None else json.dumps(_jsonable(before)),
            None if after is None else json.dumps(_jsonable(after)),
        ),
    ).fetchone()
    return int(row["id"])


def _check(pool: Any, operator: Operator, action: str, target: str) -> None:
    if operator.can_act:
        return
    with transaction(pool) as conn:
        audit(conn, operator.actor, f"{action}.denied", target, None, {"role": operator.role})
    ACTIONS.labels(action, "denied").inc()
    raise NotAllowedError(f"{operator.username} is a {operator.role} and may not {action}")


def _done(action: str, result: ActionResult) -> ActionResult:
    ACTIONS.labels(action, "ok" if result.ok else "refused").inc()
    return result


# --- retailers ------------------------------------------------------------------------------


def set_paused(
    pool: Any, operator: Operator, slug: str, paused: bool, note: str = ""
) -> ActionResult:
    """Pause (the scheduler skips it) or resume a retailer's crawling."""
    action = "retailer.pause" if paused else "retailer.resume"
    target = f"retailer:{slug}"
    _check(pool, operator, action, target)
    with transaction(pool) as conn:
        before = conn.execute(
            "SELECT paused, circuit_state FROM retailers WHERE slug = %s FOR UPDATE", (slug,)
        ).fetchone()
        if before is None:
            audit(conn, operator.actor, action + ".refused", target, None, {"error": "unknown"})
            return _done(action, ActionResult(False, f"No retailer {slug!r}."))
        conn.execute(
            "UPDATE retailers SET paused = %s, updated_at = now() WHERE slug = %s", (paused, slug)
        )
        audit(
            conn, operator.actor, action, target, dict(before),
            {**dict(before), "paused": paused, "note": note},
        )  # fmt: skip
    verb = "paused" if paused else "resumed"
    same = " (it already was)" if before["paused"] == paused else ""
    return _done(action, ActionResult(True, f"{slug} {verb}{same}."))


def crawl_now(
    pool: Any, settings: Settings, operator: Operator, slug: str, note: str = ""
) -> ActionResult:
    """Crawl a retailer as soon as possible.

    Distributed mode queues its cycle in Redis for the crawler workers at once. In-process
    mode clears `last_crawl_at` so that the crawl DAG's next tick finds it due (the console
    never runs a crawler itself; trigger the DAG from the Airflow page to start it now).
    """
    action, target = "retailer.crawl_now", f"retailer:{slug}"
    _check(pool, operator, action, target)
    with transaction(pool) as conn:
        before = queries.retailer_state(conn, slug)
        if before is None or before["paused"]:
            why = "unknown retailer" if before is None else "paused; resume it first"
            audit(conn, operator.actor, action + ".refused", target, before, {"error": why})
            return _done(action, ActionResult(False, f"Cannot crawl {slug}: {why}."))
        if settings.crawl_mode != "distributed":
            conn.execute("UPDATE retailers SET last_crawl_at = NULL WHERE slug = %s", (slug,))
            due = {"mode": "in_process", "last_crawl_at": None, "note": note}
            audit(conn, operator.actor, action, target, before, due)
            return _done(
                action,
                ActionResult(True, f"{slug} is due: the crawl DAG's next run crawls it."),
            )
    from pricehawk.crawl import cycle_key_for, queue_cycle
    from pricehawk.retailers import registry

    now = datetime.now(UTC)
    # A key of its own (a one-second interval), so that this interval's de-duplication set
    # does not swallow URLs an earlier cycle already queued.
    ckey = cycle_key_for(slug, now, 1)
    try:
        if not any(r.slug == slug for r in registry(settings)):
            raise KeyError(f"{slug} is not in the retailer registry")
        queued = queue_cycle(settings, slug, ckey, now=now)
    except (KeyError, OSError, RedisError) as exc:  # not configured; Redis unreachable
        with transaction(pool) as conn:
            audit(conn, operator.actor, action + ".failed", target, before, {"error": str(exc)})
        return _done(action, ActionResult(False, f"Could not queue {slug}: {exc}"))
    after: dict[str, Any] = {"mode": "distributed", "cycle_key": ckey, "queued": queued,
                             "note": note}  # fmt: skip
    with transaction(pool) as conn:
        audit(conn, operator.actor, action, target, before, after)
    return _done(action, ActionResult(True, f"{slug}: queued {queued} URLs ({ckey})."))


# --- anomalies ------------------------------------------------------------------------------


def _withdraw(conn: Any, anomaly_id: int) -> dict[str, int]:
    """Withdraw the anomaly's live glitch and cancel its unsent alerts (pending rows only: a
    row being sent right now is left to its sender)."""
    glitch = conn.execute(
        """UPDATE glitches SET status = 'withdrawn', ended_at = now()
            WHERE anomaly_id = %s AND status = 'live' RETURNING id""",
        (anomaly_id,),
    ).fetchone()
    if glitch is None:
        return {}
    cancelled = conn.execute(
        """UPDATE notification_outbox SET status = 'cancelled',
                  last_error = 'glitch withdrawn by an operator'
            WHERE glitch_id = %s AND status = 'pending'""",
        (glitch["id"],),
    ).rowcount
    return {"withdrawn_glitch": int(glitch["id"]), "cancelled_alerts": int(cancelled)}


def approve_anomaly(pool: Any, operator: Operator, anomaly_id: int, note: str = "") -> ActionResult:
    """Confirm an anomaly as a glitch by hand (a glitch row, announced for fan-out)."""
    from pricehawk.validation.service import GLITCH_CHANNEL

    action, target = "anomaly.approve", f"anomaly:{anomaly_id}"
    _check(pool, operator, action, target)
    with transaction(pool) as conn:
        a = conn.execute(
            "SELECT * FROM anomalies WHERE id = %s FOR UPDATE", (anomaly_id,)
        ).fetchone()
        before = queries.anomaly_state(conn, anomaly_id)
        if a is None or before is None:
            audit(conn, operator.actor, action + ".refused", target, None, {"error": "unknown"})
            return _done(action, ActionResult(False, f"No anomaly {anomaly_id}."))
        conn.execute(
            """UPDATE anomalies SET status = 'confirmed', validated_at = coalesce(validated_at,
                      now()) WHERE id = %s""",
            (anomaly_id,),
        )
        if before["glitch_id"] is not None:
            glitch_id = before["glitch_id"]
            # A withdrawn glitch comes back; its cancelled alerts stay cancelled.
            conn.execute(
                "UPDATE glitches SET status = 'live', ended_at = NULL WHERE id = %s"
                " AND status = 'withdrawn'",
                (glitch_id,),
            )
        else:
            reasoning = f"approved by {operator.actor}" + (f": {note}" if note else "")
            row = conn.execute(
                """INSERT INTO glitches (anomaly_id, product_id, price, baseline, currency,
                                         observed_at, confidence, glitch_type, reasoning,
                                         validator)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (anomaly_id) DO UPDATE SET status = 'live' RETURNING id""",
                (
                    a["id"], a["product_id"], a["price"], a["baseline"], a["currency"],
                    a["observed_at"], a["confidence"], a["glitch_type"], reasoning,
                    operator.actor,
                ),
            ).fetchone()  # fmt: skip
            assert row is not None  # ON CONFLICT DO UPDATE always returns the row
            glitch_id = row["id"]
            # The workers fan out on this notice; their sweep catches it if nobody listens.
            conn.execute("SELECT pg_notify(%s, %s)", (GLITCH_CHANNEL, str(glitch_id)))
        after = queries.anomaly_state(conn, anomaly_id)
        audit(conn, operator.actor, action, target, before, {**(after or {}), "note": note})
    return _done(action, ActionResult(True, f"Anomaly {anomaly_id} approved (glitch {glitch_id})."))


def reject_anomaly(pool: Any, operator: Operator, anomaly_id: int, note: str = "") -> ActionResult:
    """Reject an anomaly; a live glitch from it is withdrawn and its unsent alerts cancelled."""
    action, target = "anomaly.reject", f"anomaly:{anomaly_id}"
    _check(pool, operator, action, target)
    with transaction(pool) as conn:
        locked = conn.execute(
            "SELECT id FROM anomalies WHERE id = %s FOR UPDATE", (anomaly_id,)
        ).fetchone()
        before = queries.anomaly_state(conn, anomaly_id)
        if locked is None or before is None:
            audit(conn, operator.actor, action + ".refused", target, None, {"error": "unknown"})
            return _done(action, ActionResult(False, f"No anomaly {anomaly_id}."))
        conn.execute(
            "UPDATE anomalies SET status = 'rejected', validated_at = now() WHERE id = %s",
            (anomaly_id,),
        )
        withdrawn = _withdraw(conn, anomaly_id)
        after = queries.anomaly_state(conn, anomaly_id)
        audit(
            conn, operator.actor, action, target, before,
            {**(after or {}), **withdrawn, "note": note},
        )  # fmt: skip
    extra = ""
    if withdrawn:
        extra = f"; glitch withdrawn, {withdrawn['cancelled_alerts']} unsent alerts cancelled"
    return _done(action, ActionResult(True, f"Anomaly {anomaly_id} rejected{extra}."))


def revalidate_anomaly(
    pool: Any, settings: Settings, operator: Operator, anomaly_id: int, note: str = ""
) -> ActionResult:
    """Run validation again: reset the anomaly to 'new', then validate just it."""
    from pricehawk.validation.service import validate_pending

    action, target = "anomaly.revalidate", f"anomaly:{anomaly_id}"
    _check(pool, operator, action, target)
    with transaction(pool) as conn:
        before = queries.anomaly_state(conn, anomaly_id)
        if before is None:
            audit(conn, operator.actor, action + ".refused", target, None, {"error": "unknown"})
            return _done(action, ActionResult(False, f"No anomaly {anomaly_id}."))
        conn.execute(
            "UPDATE anomalies SET status = 'new', validated_at = NULL WHERE id = %s",
            (anomaly_id,),
        )
    # A worker may claim it first (SKIP LOCKED); either way it is validated exactly once.
    validate_pending(pool, settings, anomaly_ids=[anomaly_id])
    with transaction(pool) as conn:
        conn.execute("SELECT id FROM anomalies WHERE id = %s FOR UPDATE", (anomaly_id,))
        after = queries.anomaly_state(conn, anomaly_id) or {}
        withdrawn = _withdraw(conn, anomaly_id) if after.get("status") == "rejected" else {}
        if withdrawn:
            after = queries.anomaly_state(conn, anomaly_id) or {}
        audit(conn, operator.actor, action, target, before, {**after, **withdrawn, "note": note})
    return _done(
        action,
        ActionResult(True, f"Anomaly {anomaly_id} re-validated: {after.get('status', '?')}."),
    )


# --- outbox ---------------------------------------------------------------------------------

OUTBOX_ACTIONS = {
    # action: (states it applies to, what it does)
    "retry": (("review", "failed", "dead"), "send it again now"),
    "cancel": (("pending", "review", "failed", "dead"), "never send it"),
    "mark_sent": (("review",), "it did reach the recipient"),
}


def outbox_actions_for(status: str) -> list[str]:
    """The outbox actions that apply to a row in this status (pure)."""
    return [name for name, (states, _) in OUTBOX_ACTIONS.items() if status in states]


def outbox_action(pool: Any, operator: Operator, outbox_id: int, name: str) -> ActionResult:
    """Retry, cancel or mark-sent one outbox row through the notifications service (which
    writes the audit row); a refusal is audited here."""
    from pricehawk.notifications import service

    action, target = f"outbox.{name}", f"notification_outbox:{outbox_id}"
    if name not in OUTBOX_ACTIONS:
        raise ValueError(f"unknown outbox action {name!r}")
    _check(pool, operator, action, target)
    do = {
        "retry": service.retry_outbox_row,
        "cancel": service.cancel_outbox_row,
        "mark_sent": service.mark_outbox_row_sent,
    }[name]
    if do(pool, outbox_id, operator.actor):
        return _done(action, ActionResult(True, f"Outbox row {outbox_id}: {name} done."))
    with transaction(pool) as conn:
        row = queries.outbox_row(conn, outbox_id)
        status = row.status if row else None
        audit(
            conn, operator.actor, action + ".refused", target,
            {"status": status}, {"error": f"not applicable to status {status}"},
        )  # fmt: skip
    return _done(action, ActionResult(False, f"Outbox row {outbox_id} is {status}: cannot {name}."))


# --- Airflow --------------------------------------------------------------------------------


def trigger_dag(pool: Any, client: Any, operator: Operator, dag_id: str) -> ActionResult:
    """Trigger a DAG run through Airflow's API (client: console.airflow.AirflowClient)."""
    from pricehawk.console.airflow import AirflowError

    action, target = "airflow.trigger", f"dag:{dag_id}"
    _check(pool, operator, action, target)
    try:
        run = client.trigger(dag_id, conf={"triggered_by": operator.actor})
    except AirflowError as exc:
        with transaction(pool) as conn:
            audit(conn, operator.actor, action + ".failed", target, None, {"error": str(exc)})
        return _done(action, ActionResult(False, f"Airflow refused: {exc}"))
    with transaction(pool) as conn:
        audit(
            conn, operator.actor, action, target, None, {"run_id": run.run_id, "state": run.state}
        )
    return _done(action, ActionResult(True, f"Triggered {dag_id}: {run.run_id} ({run.state})."))
