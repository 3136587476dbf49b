"""Billing: the Stripe gateway and webhook event handling (idempotent, order-safe)."""
