"""The Stripe gateway: Customers, Checkout Sessions, Billing Portal Sessions, through the
official `stripe` library aimed at STRIPE_API_BASE (the sandbox stand-in offline)."""

from __future__ import annotations

from typing import Any

import stripe
from psycopg_pool import ConnectionPool

from pricehawk.accounts.emails import link
from pricehawk.accounts.models import User
from pricehawk.billing import events as ev
from pricehawk.billing import queries as q
from pricehawk.billing.service import price_ids
from pricehawk.db import transaction
from pricehawk.settings import Settings

Pool = ConnectionPool[Any]


class BillingUnavailableError(RuntimeError):
    """Stripe is not configured, or did not answer."""


def verify_signature(payload: bytes, header: str | None, secret: str) -> None:
    """Check a webhook's Stripe-Signature on the raw body (HMAC-SHA256 over `t.payload`,
    within the library's default tolerance of 300 s); raises ValueError when it fails."""
    try:
        stripe.WebhookSignature.verify_header(
            payload, header, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc


class StripeGateway:
    """Calls to Stripe for one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.configured = bool(settings.stripe_api_key)
        base = {"api": settings.stripe_api_base.rstrip("/")} if settings.stripe_api_base else None
        self.client = stripe.StripeClient(
            settings.stripe_api_key or "sk_unset",
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=15),
        )

    def _require(self) -> None:
        if not self.configured:
            raise BillingUnavailableError("billing is not configured (STRIPE_API_KEY)")

    def ensure_customer(self, pool: Pool, user: User) -> str:
        """The user's own Stripe customer, created once (an idempotency key makes a retried
        creation return the same customer)."""
        with transaction(pool) as conn:
            existing = q.customer_of(conn, user.id)
        if existing:
            return existing
        self._require()
        try:
            customer = self.client.v1.customers.create(
                params={"email": user.email, "metadata": {"user_id": str(user.id)}},
                options={"idempotency_key": f"pricehawk-customer-{user.id}"},
            )
        except stripe.StripeError as exc:
            raise BillingUnavailableError(str(exc)) from exc
        with transaction(pool) as conn:
            return q.link_customer(conn, user.id, customer.id)

    def checkout_url(self, pool: Pool, user: User, tier: str, cycle: str) -> str:
        """Start a Checkout Session for a plan; the URL to send the browser to."""
        self._require()
        price = price_ids(self.settings).get(f"{tier}_{cycle}")
        if tier not in ev.TIER_ORDER[1:] or cycle not in ev.CYCLES or not price:
            raise ValueError(f"no price for {tier} {cycle}")
        customer = self.ensure_customer(pool, user)
        metadata = {"user_id": str(user.id), "tier": tier, "cycle": cycle}
        try:
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "subscription",
                    "customer": customer,
                    "client_reference_id": str(user.id),
                    "line_items": [{"price": price, "quantity": 1}],
                    "success_url": link(
                        self.settings, "/billing/success?session_id={CHECKOUT_SESSION_ID}"
                    ),
                    "cancel_url": link(self.settings, "/billing?notice=checkout_cancelled"),
                    "metadata": metadata,
                    "subscription_data": {"metadata": metadata},
                }
            )
        except stripe.StripeError as exc:
            raise BillingUnavailableError(str(exc)) from exc
        if not session.url:
            raise BillingUnavailableError("Stripe returned no checkout URL")
        return str(session.url)

    def portal_url(self, pool: Pool, user: User) -> str | None:
        """A Customer Portal session for the user's own customer (None: no customer yet)."""
        self._require()
        with transaction(pool) as conn:
            customer = q.customer_of(conn, user.id)
        if customer is None:
            return None
        try:
            session = self.client.v1.billing_portal.sessions.create(
                params={"customer": customer, "return_url": link(self.settings, "/billing")}
            )
        except stripe.StripeError as exc:
            raise BillingUnavailableError(str(exc)) from exc
        return str(session.url)

    def cancel_for_deletion(self, pool: Pool, user_id: int) -> None:
        """Delete the user's Stripe customer, which cancels its subscriptions at once and
        removes the personal data Stripe holds; raises when Stripe could not be reached."""
        with transaction(pool) as conn:
            customer = q.customer_of(conn, user_id)
        if customer is None:
            return
        self._require()
        try:
            self.client.v1.customers.delete(customer)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":  # already deleted: nothing left to cancel
                raise BillingUnavailableError(str(exc)) from exc
        except stripe.StripeError as exc:
            raise BillingUnavailableError(str(exc)) from exc
        with transaction(pool) as conn:
            q.mark_canceled(conn, user_id)
            q.redact_customer_events(conn, customer)
