"""A Stripe stand-in on loopback: the few API endpoints PriceHawk uses, in Stripe's wire
format, a stand-in checkout page and customer portal, and webhooks signed exactly as Stripe
signs them (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`).

API (form-encoded requests with Stripe's bracket notation, JSON answers, Bearer auth):
  POST   /v1/customers                     GET /v1/customers/<id>   DELETE /v1/customers/<id>
  POST   /v1/checkout/sessions             GET /v1/checkout/sessions/<id>
  POST   /v1/billing_portal/sessions
Pages: GET /checkout/<id> (Pay / Cancel buttons), GET /portal/<id> (switch plan, cancel).
Control (tests, demo): POST /_control/fail_payment {"subscription": id},
                       POST /_control/renew {"subscription": id}, GET /_control/events.

Webhooks go to `webhook_url` when a checkout is paid, a plan changes, a payment fails or a
subscription is cancelled. `invoice_shape` picks the invoice shape: "2025" (basil: the
subscription under parent.subscription_details) or "legacy" (invoice.subscription).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Deliver = Callable[[bytes, dict[str, str]], int]


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header value for a payload (Stripe's scheme v1)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=1`) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = [key.split("[", 1)[0]] + [p.rstrip("]") for p in key.split("[")[1:]]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            child: Any = value if last else ([] if nxt is not None and nxt.isdigit() else {})
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if last or node[index] is None:
                    node[index] = child
                node = node[index]
            else:
                if last:
                    node[part] = child
                else:
                    node = node.setdefault(part, child)
    return root


class StripeStandIn:
    """State of the stand-in: customers, checkout sessions, subscriptions, sent events."""

    def __init__(
        self,
        webhook_url: str = "",
        webhook_secret: str = "whsec_sandbox",  # noqa: S107 - the sandbox's public test secret
        api_key: str = "sk_test_sandbox",
        invoice_shape: str = "2025",
        deliver: Deliver | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self.invoice_shape = invoice_shape
        self.deliver = deliver
        self.base_url = ""
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[tuple[str, int]] = []
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()

    # --- ids and time --------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    def now(self) -> int:
        """Seconds since the epoch (each event gets a distinct, increasing `created`)."""
        return int(time.time())

    # --- API -----------------------------------------------------------------------------

    def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": self._id("cus"),
            "object": "customer",
            "email": params.get("email"),
            "metadata": params.get("metadata") or {},
            "created": self.now(),
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def delete_customer(self, customer_id: str) -> dict[str, Any] | None:
        if self.customers.pop(customer_id, None) is None:
            return None
        for sub in list(self.subscriptions.values()):
            if sub["customer"] == customer_id and sub["status"] != "canceled":
                sub["status"] = "canceled"
                sub["canceled_at"] = self.now()
                self.emit("customer.subscription.deleted", dict(sub))
        return {"id": customer_id, "object": "customer", "deleted": True}

    def create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        items = params.get("line_items") or []
        sid = self._id("cs_test")
        session = {
            "id": sid,
            "object": "checkout.session",
            "mode": params.get("mode", "payment"),
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "metadata": params.get("metadata") or {},
            "status": "open",
            "payment_status": "unpaid",
            "subscription": None,
            "url": f"{self.base_url}/checkout/{sid}",
            "created": self.now(),
            "livemode": False,
            "_price": items[0].get("price") if items and isinstance(items[0], dict) else None,
            "_subscription_metadata": (params.get("subscription_data") or {}).get("metadata") or {},
        }
        self.sessions[sid] = session
        return session

    def create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = self._id("bps")
        session = {
            "id": pid,
            "object": "billing_portal.session",
            "customer": params.get("customer"),
            "return_url": params.get("return_url"),
            "url": f"{self.base_url}/portal/{pid}",
            "created": self.now(),
            "livemode": False,
        }
        self.portal_sessions[pid] = session
        return session

    # --- what a customer does on the hosted pages ----------------------------------------

    def pay(self, session_id: str) -> str:
        """Complete a checkout: subscription created, invoice paid, session completed.
        Returns the success URL."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
        now = self.now()
        sub = {
            "id": self._id("sub"),
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "metadata": dict(session["_subscription_metadata"]),
            "cancel_at_period_end": False,
            "created": now,
            "items": {"object": "list", "data": []},
        }
        self._set_price(sub, session["_price"], now)
        self.subscriptions[sub["id"]] = sub
        session.update(status="complete", payment_status="paid", subscription=sub["id"])
        self.emit("customer.subscription.created", dict(sub))
        self.emit("invoice.paid", self.invoice(sub, paid=True))
        self.emit("checkout.session.completed", self.public(session))
        return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)

    def _set_price(self, sub: dict[str, Any], price: str | None, now: int) -> None:
        period_end = now + (365 if price and price.endswith("annual") else 30) * 86400
        item = {
            "id": self._id("si"),
            "object": "subscription_item",
            "price": {"id": price, "object": "price"},
            "quantity": 1,
            "current_period_start": now,
            "current_period_end": period_end,
        }
        sub["items"] = {"object": "list", "data": [item]}
        if self.invoice_shape == "legacy":
            sub["current_period_end"] = period_end
        else:
            sub.pop("current_period_end", None)

    def change_price(self, sub_id: str, price: str) -> None:
        sub = self.subscriptions[sub_id]
        self._set_price(sub, price, self.now())
        self.emit("customer.subscription.updated", dict(sub))

    def cancel(self, sub_id: str) -> None:
        sub = self.subscriptions[sub_id]
        sub["status"] = "canceled"
        sub["canceled_at"] = self.now()
        self.emit("customer.subscription.deleted", dict(sub))

    def fail_payment(self, sub_id: str) -> None:
        sub = self.subscriptions[sub_id]
        sub["status"] = "past_due"
        self.emit("invoice.payment_failed", self.invoice(sub, paid=False))
        self.emit("customer.subscription.updated", dict(sub))

    def renew(self, sub_id: str) -> None:
        sub = self.subscriptions[sub_id]
        sub["status"] = "active"
        self.emit("invoice.paid", self.invoice(sub, paid=True))
        self.emit("customer.subscription.updated", dict(sub))

    # --- objects and events --------------------------------------------------------------

    def invoice(self, sub: dict[str, Any], paid: bool) -> dict[str, Any]:
        """An Invoice for a subscription, in the configured shape."""
        item = sub["items"]["data"][0]
        line: dict[str, Any] = {
            "id": self._id("il"),
            "object": "line_item",
            "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
            "pricing": {"price_details": {"price": item["price"]["id"]}},
        }
        invoice: dict[str, Any] = {
            "id": self._id("in"),
            "object": "invoice",
            "customer": sub["customer"],
            "status": "paid" if paid else "open",
            "amount_paid": 0,
            "billing_reason": "subscription_cycle",
            "lines": {"object": "list", "data": [line]},
            "created": self.now(),
        }
        if self.invoice_shape == "legacy":
            invoice["subscription"] = sub["id"]
            line["subscription"] = sub["id"]
            line["price"] = item["price"]
        else:
            invoice["parent"] = {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub["id"], "metadata": sub["metadata"]},
            }
            line["parent"] = {
                "type": "subscription_item_details",
                "subscription_item_details": {
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
            }
        return invoice

    def public(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def emit(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Record an event and deliver it, signed."""
        with self.lock:
            event = {
                "id": self._id("evt"),
                "object": "event",
                "api_version": "2025-03-31.basil"
                if self.invoice_shape != "legacy"
                else "2024-06-20",
                "created": self.now(),
                "type": kind,
                "livemode": False,
                "pending_webhooks": 1,
                "data": {"object": self.public(obj)},
            }
            self.events.append(event)
        self.send(event)
        return event

    def send(self, event: dict[str, Any]) -> int:
        """Deliver one event to the webhook endpoint (signed now); its HTTP status."""
        payload = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, self.webhook_secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        status = 0
        if self.deliver is not None:
            status = self.deliver(payload, headers)
        elif self.webhook_url:
            request = urllib.request.Request(self.webhook_url, payload, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
        self.deliveries.append((event["id"], status))
        return status


def _error(status: int, message: str, code: str = "") -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": "invalid_request_error", "message": message, "code": code}}


def make_handler(stand_in: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving one stand-in."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "StripeStandIn/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return

        def _body(self) -> str:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length).decode() if length else ""

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            self.wfile.write(data)

        def _html(self, body: str, status: int = 200) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, url: str) -> None:
            self.send_response(303)
            self.send_header("Location", url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {stand_in.api_key}":
                self._json(
                    401,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "Invalid API Key provided.",
                        }
                    },
                )
                return False
            return True

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            parts = [p for p in path.split("/") if p]
            with stand_in.lock:
                if path == "/_control/events":
                    return self._json(200, {"data": stand_in.events})
                if len(parts) == 2 and parts[0] == "checkout" and parts[1] in stand_in.sessions:
                    return self._html(_checkout_page(stand_in.sessions[parts[1]]))
                if (
                    len(parts) == 2
                    and parts[0] == "portal"
                    and parts[1] in stand_in.portal_sessions
                ):
                    return self._html(_portal_page(stand_in, stand_in.portal_sessions[parts[1]]))
                if parts[:1] == ["v1"]:
                    if not self._authorised():
                        return None
                    if parts[1:2] == ["customers"] and len(parts) == 3:
                        found = stand_in.customers.get(parts[2])
                    elif parts[1:3] == ["checkout", "sessions"] and len(parts) == 4:
                        session = stand_in.sessions.get(parts[3])
                        found = stand_in.public(session) if session else None
                    else:
                        found = None
                    if found is None:
                        return self._json(*_error(404, "No such object", "resource_missing"))
                    return self._json(200, found)
            return self._html("<h1>Not found</h1>", 404)

        def do_DELETE(self) -> None:
            parts = [p for p in urlsplit(self.path).path.split("/") if p]
            if not self._authorised():
                return
            if parts[:2] == ["v1", "customers"] and len(parts) == 3:
                with stand_in.lock:
                    deleted = stand_in.delete_customer(parts[2])
                if deleted is None:
                    return self._json(
                        *_error(404, f"No such customer: '{parts[2]}'", "resource_missing")
                    )
                return self._json(200, deleted)
            return self._json(*_error(404, "Unrecognized request URL"))

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            parts = [p for p in path.split("/") if p]
            body = self._body()
            if parts[:1] == ["v1"]:
                if not self._authorised():
                    return
                params = decode_form(body)
                key = self.headers.get("Idempotency-Key")
                with stand_in.lock:
                    if key and key in stand_in.idempotency:
                        return self._json(200, stand_in.idempotency[key])
                    if path == "/v1/customers":
                        result = stand_in.create_customer(params)
                    elif path == "/v1/checkout/sessions":
                        if params.get("customer") not in stand_in.customers:
                            return self._json(*_error(400, "No such customer", "resource_missing"))
                        result = stand_in.public(stand_in.create_checkout_session(params))
                    elif path == "/v1/billing_portal/sessions":
                        if params.get("customer") not in stand_in.customers:
                            return self._json(*_error(400, "No such customer", "resource_missing"))
                        result = stand_in.create_portal_session(params)
                    else:
                        return self._json(*_error(404, "Unrecognized request URL"))
                    if key:
                        stand_in.idempotency[key] = result
                return self._json(200, result)
            if path.startswith("/_control/"):
                data = json.loads(body or "{}")
                action = parts[1]
                sub = data.get("subscription", "")
                if sub not in stand_in.subscriptions:
                    return self._json(404, {"error": "no such subscription"})
                if action == "fail_payment":
                    stand_in.fail_payment(sub)
                elif action == "renew":
                    stand_in.renew(sub)
                elif action == "cancel":
                    stand_in.cancel(sub)
                else:
                    return self._json(404, {"error": "unknown control"})
                return self._json(200, {"ok": True})
            form = dict(parse_qsl(body))
            if len(parts) == 3 and parts[0] == "checkout" and parts[1] in stand_in.sessions:
                session = stand_in.sessions[parts[1]]
                if parts[2] == "pay":
                    return self._redirect(stand_in.pay(parts[1]))
                return self._redirect(str(session["cancel_url"]))
            if len(parts) == 3 and parts[0] == "portal" and parts[1] in stand_in.portal_sessions:
                portal = stand_in.portal_sessions[parts[1]]
                sub_id = form.get("subscription", "")
                if sub_id in stand_in.subscriptions and (
                    stand_in.subscriptions[sub_id]["customer"] == portal["customer"]
                ):
                    if parts[2] == "cancel":
                        stand_in.cancel(sub_id)
                    elif parts[2] == "switch" and form.get("price"):
                        stand_in.change_price(sub_id, form["price"])
                return self._redirect(str(portal["return_url"]))
            return self._html("<h1>Not found</h1>", 404)

    return Handler


def _checkout_page(session: dict[str, Any]) -> str:
    sid = html.escape(session["id"])
    price = html.escape(str(session.get("_price")))
    return f"""<!doctype html><html><head><title>Stand-in Checkout</title></head><body>
<h1>Stand-in Stripe Checkout</h1><p>Subscription: <code>{price}</code></p>
<p>Test card 4242 4242 4242 4242 — nothing is charged.</p>
<form method="post" action="/checkout/{sid}/pay"><button type="submit">Pay</button></form>
<form method="post" action="/checkout/{sid}/cancel"><button type="submit">Cancel</button></form>
</body></html>"""


def _portal_page(stand_in: StripeStandIn, portal: dict[str, Any]) -> str:
    pid = html.escape(portal["id"])
    rows = []
    for sub in stand_in.subscriptions.values():
        if sub["customer"] != portal["customer"]:
            continue
        sid = html.escape(sub["id"])
        price = html.escape(str(sub["items"]["data"][0]["price"]["id"]))
        rows.append(
            f"<li><code>{sid}</code> {price} — {html.escape(sub['status'])}"
            f'<form method="post" action="/portal/{pid}/cancel">'
            f'<input type="hidden" name="subscription" value="{sid}">'
            f'<button type="submit">Cancel subscription</button></form>'
            f'<form method="post" action="/portal/{pid}/switch">'
            f'<input type="hidden" name="subscription" value="{sid}">'
            f'<input name="price" placeholder="price_pro_monthly">'
            f'<button type="submit">Switch plan</button></form></li>'
        )
    back = html.escape(str(portal["return_url"]))
    return f"""<!doctype html><html><head><title>Stand-in Customer Portal</title></head><body>
<h1>Stand-in Customer Portal</h1><ul>{"".join(rows) or "<li>No subscriptions</li>"}</ul>
<p><a href="{back}">Return</a></p></body></html>"""


class StripeServer:
    """The stand-in served on loopback in a background thread (port 0: any free port)."""

    def __init__(
        self, stand_in: StripeStandIn | None = None, host: str = "127.0.0.1", port: int = 0
    ):
        self.stand_in = stand_in or StripeStandIn()
        self.httpd = ThreadingHTTPServer((host, port), make_handler(self.stand_in))
        self.httpd.daemon_threads = True
        self.stand_in.base_url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StripeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
