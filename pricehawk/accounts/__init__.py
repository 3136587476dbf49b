"""Subscriber accounts: passwords, sessions, email tokens, throttling (framework-free)."""
