"""Channels: one module per channel, registered by name.

A channel is a class with `name` and `send(message) -> SendResult`; it never raises for a
provider's answer (it reports it), so one failing recipient never stops the rest. Each takes
its base URL and credentials from settings, so tests aim it at the stand-ins in sandbox/.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings

CHANNEL_MODULES = ("file", "email", "sms", "whatsapp", "telegram", "discord")


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> SendResult: ...


_REGISTRY: dict[str, Callable[[Settings], Channel]] = {}


def register(name: str) -> Callable[[Callable[[Settings], Channel]], Callable[[Settings], Channel]]:
    """Class decorator: make a channel available under `name`."""

    def wrap(factory: Callable[[Settings], Channel]) -> Callable[[Settings], Channel]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def load_all() -> None:
    """Import every channel module (each registers itself)."""
    for module in CHANNEL_MODULES:
        importlib.import_module(f"pricehawk.notifications.channels.{module}")


def build_channels(settings: Settings, names: tuple[str, ...] | None = None) -> dict[str, Channel]:
    """One instance of every registered channel (or of `names`), configured from settings."""
    load_all()
    return {
        name: factory(settings)
        for name, factory in _REGISTRY.items()
        if names is None or name in names
    }
