"""Channels: one module per channel, registered by name.

A channel is a class with `name` and `send(message) -> SendResult`; it never raises for a
provider's answer (it reports it), so one failing recipient never stops the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pricehawk.notifications.models import Message, SendResult
from pricehawk.settings import Settings


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


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One instance of every registered channel, configured from settings."""
    from pricehawk.notifications.channels import file  # noqa: F401 - registers itself

    return {name: factory(settings) for name, factory in _REGISTRY.items()}
