"""Tiered notifications: fan-out to an outbox, then dispatch through channels."""
