"""Validation: decide whether an anomaly is a real pricing error (a glitch)."""
