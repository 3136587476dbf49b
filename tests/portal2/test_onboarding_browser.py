"""The whole onboarding in a real browser against the real server (waitress), with the Stripe
stand-in's signed webhook reaching that server over HTTP:

landing -> sign up -> confirm the email (link read from the file outbox) -> sign in ->
subscribe to Pro through the Stripe stand-in -> set preferences -> verify an SMS number with
the code the Twilio stand-in received -> a test alert -> a planted glitch goes through the
worker's steps (validate, fan out, dispatch) and arrives by SMS -> the dashboard shows it.

A screenshot of every step goes to artifacts/onboarding/.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from portal import create_app
from pricehawk import db as phdb
from pricehawk.accounts.emails import read_outbox
from pricehawk.settings import Settings, load_settings
from pricehawk.worker import run_once
from sandbox.stripe import StripeServer, StripeStandIn
from tests.conftest import require_tool
from tests.portal2.conftest import SMS_FROM, WEBHOOK_SECRET, db, plant_anomaly, seed_glitch

PASSWORD = "a long and unusual passphrase"
NUMBER = "+14155550123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def live_portal(
    tmp_path: Path, portal_db: str, redis_server_url: str, standins: dict[str, Any]
) -> Iterator[tuple[str, Any, Settings]]:
    """The portal served by waitress on a free port, and a Stripe stand-in posting to it."""
    import psycopg
    import waitress  # type: ignore[import-untyped]

    with psycopg.connect(portal_db, autocommit=True) as conn:
        for table in ("users", "retailers", "webhook_events", "notification_outbox"):
            conn.execute(f"DELETE FROM {table}")
    for server in standins.values():
        server.reset()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    stripe = StripeServer(
        StripeStandIn(webhook_url=f"{base}/webhooks/stripe", webhook_secret=WEBHOOK_SECRET)
    ).start()
    settings = load_settings(
        {},
        home=tmp_path / "home",
        database_url=portal_db,
        redis_url=redis_server_url,
        redis_prefix=f"pricehawk-test-{uuid.uuid4().hex[:10]}:",
        secret_key="browser-test-secret",
        public_base_url=base,
        stripe_api_key="sk_test_sandbox",
        stripe_api_base=stripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        twilio_account_sid="ACtest",
        twilio_auth_token="twilio-token",
        twilio_base_url=standins["twilio"].url,
        twilio_sms_from=SMS_FROM,
    )
    app = create_app(settings)
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield base, app, settings
    server.close()
    thread.join(timeout=5)
    stripe.stop()
    app.extensions["pricehawk"].close()


def _sms_to(standins: dict[str, Any], number: str) -> list[str]:
    return [
        r.data["Body"]
        for r in standins["twilio"].deliveries()
        if isinstance(r.data, dict) and r.data.get("To") == number
    ]


def test_landing_to_first_alert(
    live_portal: tuple[str, Any, Settings], standins: dict[str, Any], artifacts_dir: Path
) -> None:
    chromium = require_tool("chromium", "/usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    base, app, settings = live_portal
    out = artifacts_dir / "onboarding"
    out.mkdir(parents=True, exist_ok=True)
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    started = time.monotonic()
    step = iter(range(1, 100))

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(name: str) -> None:
            path = out / f"{next(step):02d}_{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 5_000

        # 1. landing (recent glitches past the Free delay as examples) -> sign up
        seed_glitch(app, title="Kettle Pro 1.7 l", validated_ago=timedelta(days=4))
        seed_glitch(app, title="Trail running shoes", price="9.99", baseline="129.00",
                    category="Sport", retailer="globex", validated_ago=timedelta(days=5),
                    status="ended")  # fmt: skip
        page.goto(base + "/")
        expect(page.locator(".deal")).to_have_count(2)
        expect(page.get_by_role("heading", level=1)).to_contain_text("pricing mistakes")
        shot("landing")
        page.get_by_role("link", name="See plans").click()
        expect(page.get_by_role("heading", name="Plans and pricing")).to_be_visible()
        shot("pricing")
        page.get_by_role("link", name="Start with Pro").click()
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        shot("signup")
        page.get_by_role("button", name=re.compile("sign up|create", re.I)).click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

        # 2. confirm the address with the link from the outbox, then sign in
        app.extensions["pricehawk"].mailer.drain()
        [mail] = [m for m in read_outbox(settings) if m["to"] == email]
        link = re.search(r"(http://\S+/verify-email/\S+)", mail["text"])
        assert link, mail["text"]
        page.goto(link.group(1))
        page.get_by_role("button", name="Confirm").click()
        page.goto(base + "/dashboard")  # anonymous: sign in first, then come back here
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name=re.compile("sign in", re.I)).click()
        expect(page.get_by_role("heading", name="Your deals")).to_be_visible()
        expect(page.get_by_text("Get your first alert")).to_be_visible()
        shot("dashboard_new")

        # 3. subscribe to Pro through the Stripe stand-in (its webhook reaches the server)
        page.get_by_role("link", name=re.compile("Choose a plan")).click()
        pro = page.locator("article.plan", has_text="Pro")
        pro.get_by_role("button", name="Choose Pro").click()
        expect(page.get_by_role("heading", name="Stand-in Stripe Checkout")).to_be_visible()
        shot("checkout")
        page.get_by_role("button", name="Pay").click()
        expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db(app) as conn:
                tier = conn.execute("SELECT tier FROM users WHERE email = %s", (email,)).fetchone()[
                    "tier"
                ]
            if tier == "pro":
                break
            time.sleep(0.2)
        assert tier == "pro", "the signed webhook never upgraded the account"
        shot("subscribed")

        # 4. preferences: an SMS number verified with the code, filters saved, a test alert
        page.goto(base + "/preferences")
        sms = page.locator("#channel-sms")
        sms.get_by_label("Mobile number").fill("+1 (415) 555-0123")
        sms.get_by_role("button", name="Text me a code").click()
        expect(page.get_by_text("We sent a 6-digit code")).to_be_visible()
        [code_sms] = _sms_to(standins, NUMBER)
        code = re.search(r"\b(\d{6})\b", code_sms)
        assert code, code_sms
        sms = page.locator("#channel-sms")
        sms.get_by_label(re.compile("Code sent to")).fill(code.group(1))
        shot("verify_sms")
        sms.get_by_role("button", name="Verify").click()
        expect(page.get_by_text("Verified: alerts can now reach you")).to_be_visible()
        page.get_by_label("Minimum discount %").fill("50")
        page.get_by_label("Time zone").select_option("Europe/Paris")
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_text("Your deal preferences are saved.")).to_be_visible()
        page.locator("#channel-sms").get_by_role("button", name="Send me a test alert").click()
        expect(page.get_by_text("Test alert sent")).to_be_visible()
        assert any("test alert" in body for body in _sms_to(standins, NUMBER))
        shot("preferences")

        # 5. a glitch appears: the worker's steps validate it, fan it out and send it
        plant_anomaly(app)
        pool = phdb.make_pool(settings.database_url, min_size=1, max_size=2)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                run_once(pool, settings)
                if any("Aurora" in body for body in _sms_to(standins, NUMBER)):
                    break
                time.sleep(0.2)
        finally:
            pool.close()
        alert = [b for b in _sms_to(standins, NUMBER) if "Aurora" in b]
        assert alert and "189.99" in alert[0], _sms_to(standins, NUMBER)
        elapsed = time.monotonic() - started

        # 6. the dashboard lists the deal and the delivered SMS; the checklist is gone
        page.goto(base + "/dashboard")
        expect(page.get_by_text("Aurora 65-inch OLED TV").first).to_be_visible()
        expect(page.locator("table.history")).to_contain_text("delivered")
        expect(page.get_by_text("Get your first alert")).to_have_count(0)
        shot("first_alert")
        browser.close()
    (out / "elapsed.txt").write_text(f"landing to first SMS alert: {elapsed:.1f} s\n")
