"""Every page through Streamlit's AppTest against a database the demo filled: signed out,
signed in, and each operator action (its state change and its audit row)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
import streamlit as st
from prometheus_client import REGISTRY
from streamlit.testing.v1 import AppTest

from pricehawk.console import actions
from pricehawk.operators import Operator
from tests.console.conftest import (
    APP,
    PAGES,
    PASSWORD,
    DemoDb,
    last_audit,
    open_page,
    query,
    signed_in,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def fresh_cache(console_env: DemoDb) -> Iterator[None]:
    # Tests change the database behind the console's back; its 10 s cache must not hide it.
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def texts(at: AppTest) -> str:
    """Every piece of text the page shows (markdown, captions, alerts, metrics, tables)."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "success",
        "warning",
        "error",
    ):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


def test_signed_out_sees_only_the_sign_in_form(console_env: DemoDb) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["PriceHawk console"]
    assert len(at.text_input) == 2 and not at.dataframe and not at.metric
    with pytest.raises(ValueError, match="navigation page"):
        at.switch_page("pages/overview.py")


def test_wrong_password_is_refused_and_audited(console_env: DemoDb) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input(key="username").input("alice")
    at.text_input(key="password").input("not the password at all")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Unknown username or wrong password."]
    assert "operator" not in at.session_state
    row = last_audit(console_env.url, "operator.sign_in_failed")
    assert row["actor"] == "operator:alice" and row["after"]["reason"] == "password"
    # A good password afterwards still works (one failure does not lock the account).
    signed_in("alice")


def test_every_page_renders_signed_in(console_env: DemoDb) -> None:
    at = signed_in()
    glitch_types = [g["glitch_type"] for g in console_env.summary["glitches"]]
    expected = {
        "overview": ["Items / min=", "Funnel (24 h)", "Latency p50="],
        "retailers": ["acme", "globex", "initech", "block rate"],
        "queues": ["Due now=", "Dead letters"],
        "anomalies": ["Awaiting validation=", *glitch_types],
        "notifications": ["Needing attention"],
        "subscribers": ["Subscribers=", "MRR="],
        "airflow": ["Airflow is not configured"],
        "audit": ["operator.sign_in", "operator:alice"],
    }
    assert set(expected) == set(PAGES)
    for page in PAGES:
        shown = texts(open_page(at, page))
        for needle in expected[page]:
            assert needle in shown, f"{page}: {needle!r} not shown"
        assert at.sidebar.caption[0].value.startswith("Signed in as **alice**"), page


def test_overview_counts_what_the_demo_did(console_env: DemoDb) -> None:
    at = open_page(signed_in(), "overview")
    glitches = len(console_env.summary["glitches"])
    assert glitches >= 1
    metric = {m.label: m.value for m in at.metric}
    assert float(metric["Items / min"]) > 0  # the demo stored prices minutes ago
    # The queries ran and were measured.
    assert (REGISTRY.get_sample_value("pricehawk_console_query_seconds_count",
                                      {"query": "funnel"}) or 0) >= 1  # fmt: skip


def test_pause_resume_and_crawl_now(console_env: DemoDb) -> None:
    url = console_env.url
    at = open_page(signed_in(), "retailers")
    at.selectbox(key="retailer_pick").select("globex").run()
    at.text_input(key="retailer_note").input("supplier outage").run()
    at.button(key="pause").click().run()
    assert [s.value for s in at.success] == ["globex paused."]
    assert query(url, "SELECT paused FROM retailers WHERE slug = 'globex'")[0]["paused"] is True
    row = last_audit(url, "retailer.pause")
    assert (row["actor"], row["target"]) == ("operator:alice", "retailer:globex")
    assert row["before"]["paused"] is False
    assert row["after"]["paused"] is True and row["after"]["note"] == "supplier outage"
    assert row["at"] is not None

    # A paused retailer cannot be crawled: refused, and the refusal is audited.
    at.button(key="crawl_now").click().run()
    assert "paused" in at.error[0].value
    assert last_audit(url, "retailer.crawl_now.refused")["target"] == "retailer:globex"

    at.button(key="resume").click().run()
    assert query(url, "SELECT paused FROM retailers WHERE slug = 'globex'")[0]["paused"] is False
    assert last_audit(url, "retailer.resume")["after"]["paused"] is False

    # In-process mode: crawl now makes the retailer due for the crawl DAG's next tick.
    query(url, "UPDATE retailers SET last_crawl_at = now() WHERE slug = 'globex' RETURNING 1")
    at.button(key="crawl_now").click().run()
    assert at.success and "due" in at.success[0].value
    assert query(url, "SELECT last_crawl_at FROM retailers WHERE slug = 'globex'")[0][
        "last_crawl_at"] is None  # fmt: skip
    row = last_audit(url, "retailer.crawl_now")
    assert row["before"]["last_crawl_at"] is not None and row["after"]["mode"] == "in_process"


def test_crawl_now_in_distributed_mode_queues_urls_the_queues_page_shows(
    console_env: DemoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRICEHAWK_CRAWL_MODE", "distributed")
    at = open_page(signed_in(), "retailers")
    at.selectbox(key="retailer_pick").select("acme").run()
    at.button(key="crawl_now").click().run()
    assert at.success and "queued" in at.success[0].value, [e.value for e in at.error]
    row = last_audit(console_env.url, "retailer.crawl_now")
    assert row["after"]["mode"] == "distributed" and row["after"]["queued"] >= 1
    client = redis_lib.Redis.from_url(console_env.env["REDIS_URL"], decode_responses=True)
    key = console_env.env["PRICEHAWK_REDIS_PREFIX"] + "crawl:requests"
    queued = client.llen(key)
    client.close()
    assert queued >= 1
    at = open_page(at, "queues")
    spiders = at.dataframe[0].value
    assert "crawl" in list(spiders["spider"])
    assert int(spiders.set_index("spider").loc["crawl", "requests"]) == queued


def _confirmed_anomaly(url: str) -> dict[str, Any]:
    rows = query(
        url,
        """SELECT a.id, g.id AS glitch_id, g.validator FROM anomalies a
             JOIN glitches g ON g.anomaly_id = a.id
            WHERE a.status = 'confirmed' AND g.validator = 'rules' ORDER BY a.id LIMIT 1""",
    )
    assert rows, "the demo confirmed no anomaly"
    return rows[0]


def _outbox_row(url: str, glitch_id: int, status: str, channel: str = "email") -> int:
    """A row for a demo user (the demo's own rows depend on the notification engine)."""
    rows = query(
        url,
        """WITH u AS (SELECT id FROM users ORDER BY id LIMIT 1)
           INSERT INTO notification_outbox (glitch_id, user_id, channel, tier, due_at, status,
                                            attempts, last_error)
           SELECT %s, u.id, %s, 'free', now() + interval '1 day', %s, 3,
                  'provider said 550 for demo-free@pricehawk.example'
             FROM u
           ON CONFLICT (glitch_id, user_id, channel) WHERE glitch_id IS NOT NULL
           DO UPDATE SET status = excluded.status, last_error = excluded.last_error
           RETURNING id""",
        (glitch_id, channel, status),
    )
    return int(rows[0]["id"])


def test_reject_approve_and_revalidate_an_anomaly(console_env: DemoDb) -> None:
    url = console_env.url
    a = _confirmed_anomaly(url)
    pending = _outbox_row(url, a["glitch_id"], "pending", channel="sms")
    sql = "SELECT count(*) AS n FROM notification_outbox WHERE glitch_id = %s AND status = %s"
    unsent = query(url, sql, (a["glitch_id"], "pending"))[0]["n"]
    at = open_page(signed_in(), "anomalies")

    at.text_input(key=f"note-{a['id']}").input("competitor price match, not a glitch").run()
    at.button(key=f"reject-{a['id']}").click().run()
    assert at.success and "rejected" in at.success[0].value
    state = query(url, """SELECT a.status, g.status AS glitch FROM anomalies a
                           JOIN glitches g ON g.anomaly_id = a.id WHERE a.id = %s""",
                  (a["id"],))[0]  # fmt: skip
    assert state == {"status": "rejected", "glitch": "withdrawn"}
    status = query(url, "SELECT status FROM notification_outbox WHERE id = %s", (pending,))
    assert status[0]["status"] == "cancelled"
    row = last_audit(url, "anomaly.reject")
    assert row["target"] == f"anomaly:{a['id']}"
    assert row["before"]["status"] == "confirmed" and row["after"]["status"] == "rejected"
    assert row["after"]["cancelled_alerts"] == unsent >= 1
    assert row["after"]["note"] == "competitor price match, not a glitch"

    at.button(key=f"approve-{a['id']}").click().run()
    state = query(url, """SELECT a.status, g.status AS glitch FROM anomalies a
                           JOIN glitches g ON g.anomaly_id = a.id WHERE a.id = %s""",
                  (a["id"],))[0]  # fmt: skip
    assert state == {"status": "confirmed", "glitch": "live"}
    row = last_audit(url, "anomaly.approve")
    assert row["before"]["status"] == "rejected" and row["after"]["glitch_status"] == "live"

    at.button(key=f"revalidate-{a['id']}").click().run()
    assert at.success and "re-validated: confirmed" in at.success[0].value
    row = last_audit(url, "anomaly.revalidate")
    assert row["before"]["status"] == "confirmed" and row["after"]["status"] == "confirmed"
    validated = query(url, "SELECT validated_at FROM anomalies WHERE id = %s", (a["id"],))
    assert validated[0]["validated_at"] > row["at"].replace(year=2000)  # validated again


def test_approve_creates_a_glitch_for_a_rejected_anomaly(console_env: DemoDb) -> None:
    url = console_env.url
    rows = query(
        url,
        """SELECT a.id FROM anomalies a LEFT JOIN glitches g ON g.anomaly_id = a.id
                          WHERE a.status = 'rejected' AND g.id IS NULL ORDER BY a.id LIMIT 1""",
    )
    assert rows, "the demo rejected no anomaly"
    anomaly_id = rows[0]["id"]
    at = open_page(signed_in(), "anomalies")
    at.button(key=f"approve-{anomaly_id}").click().run()
    glitch = query(url, "SELECT validator, status FROM glitches WHERE anomaly_id = %s",
                   (anomaly_id,))  # fmt: skip
    assert glitch == [{"validator": "operator:alice", "status": "live"}]
    assert last_audit(url, "anomaly.approve")["target"] == f"anomaly:{anomaly_id}"


def test_retry_and_cancel_outbox_rows_with_masked_recipients(console_env: DemoDb) -> None:
    url = console_env.url
    glitch_id = _confirmed_anomaly(url)["glitch_id"]
    dead = _outbox_row(url, glitch_id, "dead", channel="email")
    review = _outbox_row(url, glitch_id, "review", channel="file")
    at = open_page(signed_in(), "notifications")
    shown = texts(at)
    assert "demo-free@pricehawk.example" not in shown  # neither as recipient nor in the error
    assert "d***@p***.example" in shown

    at.selectbox(key="outbox_pick").select(dead).run()
    assert at.button(key="outbox-mark_sent").disabled  # only for rows in review
    at.button(key="outbox-retry").click().run()
    assert at.success, [e.value for e in at.error]
    assert query(url, "SELECT status FROM notification_outbox WHERE id = %s",
                 (dead,))[0]["status"] == "pending"  # fmt: skip
    row = last_audit(url, "outbox.retry")
    assert (row["actor"], row["target"]) == ("operator:alice", f"notification_outbox:{dead}")
    assert row["before"]["status"] == "dead" and row["after"]["status"] == "pending"

    at.selectbox(key="outbox_pick").select(review).run()
    at.button(key="outbox-cancel").click().run()
    assert query(url, "SELECT status FROM notification_outbox WHERE id = %s",
                 (review,))[0]["status"] == "cancelled"  # fmt: skip
    assert last_audit(url, "outbox.cancel")["before"]["status"] == "review"


def test_a_viewer_sees_everything_but_cannot_act(console_env: DemoDb) -> None:
    at = open_page(signed_in("victor"), "retailers")
    assert at.button(key="pause").disabled and at.button(key="crawl_now").disabled
    assert any("read-only" in i.value for i in at.info)
    viewer = Operator(0, "victor", "viewer")
    from pricehawk import db

    pool = db.make_pool(console_env.url, min_size=1, max_size=1)
    try:
        with pytest.raises(actions.NotAllowedError):
            actions.set_paused(pool, viewer, "acme", True)
    finally:
        pool.close()
    row = last_audit(console_env.url, "retailer.pause.denied")
    assert row["actor"] == "operator:victor" and row["after"] == {"role": "viewer"}
    assert query(console_env.url, "SELECT paused FROM retailers WHERE slug = 'acme'")[0][
        "paused"] is False  # fmt: skip


def test_sign_out_ends_the_session(console_env: DemoDb) -> None:
    at = open_page(signed_in(), "overview")
    at.sidebar.button(key="sign_out").click().run()
    assert "operator" not in at.session_state
    # The session still asks for the Overview page; the page itself refuses to render.
    at.run()
    assert [w.value for w in at.warning] == ["Sign in to use the console."]
    assert not at.dataframe and not at.metric and not at.title
    assert last_audit(console_env.url, "operator.sign_out")["actor"] == "operator:alice"


def test_audit_page_masks_contact_details(console_env: DemoDb) -> None:
    query(
        console_env.url,
        """INSERT INTO audit_log (actor, action, target, before, after)
           VALUES ('user:7', 'account.email_change', 'user:7', %s, %s) RETURNING 1""",
        (json.dumps({"email": "old.address@example.org"}),
         json.dumps({"email": "new.address@example.org", "phone": "+14155550123"})),
    )  # fmt: skip
    at = open_page(signed_in(), "audit")
    at.text_input(key="audit_action").input("account.").run()
    shown = texts(at)
    assert "account.email_change" in shown
    assert "address@example.org" not in shown and "5550123" not in shown
    assert "o***@e***.org" in shown


def test_password_is_checked_against_argon2id(console_env: DemoDb) -> None:
    stored = query(console_env.url, "SELECT password_hash FROM operators WHERE username = 'alice'")
    assert stored[0]["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in stored[0]["password_hash"]
