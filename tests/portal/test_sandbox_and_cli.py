"""The Stripe stand-in through the official library, and `pricehawk portal` under waitress."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import stripe

from pricehawk.billing.gateway import verify_signature
from sandbox.stripe import StripeServer, decode_form, sign_payload
from tests.conftest import ROOT


def test_decode_form_reads_stripes_bracket_notation() -> None:
    body = "mode=subscription&line_items[0][price]=p&line_items[0][quantity]=1&metadata[tier]=pro"
    assert decode_form(body) == {
        "mode": "subscription",
        "line_items": [{"price": "p", "quantity": "1"}],
        "metadata": {"tier": "pro"},
    }


def test_signatures_verify_with_the_stripe_library() -> None:
    payload = b'{"id": "evt_1"}'
    header = sign_payload(payload, "whsec_x")
    stripe.WebhookSignature.verify_header(payload, header, "whsec_x", 300)
    verify_signature(payload, header, "whsec_x")


def test_official_client_talks_to_the_stand_in(stripe_server: StripeServer) -> None:
    client = stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": stripe_server.url}, max_network_retries=0
    )
    customer = client.v1.customers.create(params={"email": "a@example.com"})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": "price_pro_monthly", "quantity": 1}],
            "success_url": "http://x/ok",
            "cancel_url": "http://x/no",
        }
    )
    assert session.url and session.url.startswith(stripe_server.url)
    with urllib.request.urlopen(session.url) as page:  # the stand-in checkout page
        assert b"Pay" in page.read()
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "http://x"}
    )
    assert portal.url.startswith(stripe_server.url + "/portal/")
    assert client.v1.customers.delete(customer.id).deleted is True
    bad = stripe.StripeClient(
        "sk_wrong", base_addresses={"api": stripe_server.url}, max_network_retries=0
    )
    try:
        bad.v1.customers.create(params={})
    except stripe.AuthenticationError:
        pass
    else:
        raise AssertionError("a wrong key must be refused")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pricehawk_portal_serves_with_waitress(portal_settings: Any, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": portal_settings.database_url,
        "REDIS_URL": portal_settings.redis_url,
        "PRICEHAWK_HOME": str(tmp_path),
        "PRICEHAWK_SECRET_KEY": "cli-test-secret",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pricehawk.cli.main", "portal", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    assert r.headers["Server"] == "pricehawk"  # waitress with our ident
                    assert json.loads(r.read())["status"] == "ok"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "portal did not start"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
