"""The messages the library's actors exchange.

Each is a small frozen :class:`msgspec.Struct`, named for what it means, so that an
actor's ``on_receive`` is a plain type dispatch and nothing sent between threads can
be mutated after it left its sender (Pykka does not copy messages).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Dispatch", "Install", "Remove", "RemoveAll", "Seal"]


class Dispatch(msgspec.Struct, frozen=True):
    """Told to an idle pool worker: run this item, then keep serving its pool's backlog."""

    item: Any


class Install(msgspec.Struct, frozen=True):
    """Asked of the router: make ``pool`` the pool of ``topic``. Replies an ``InstallOutcome``."""

    topic: str
    pool: Any


class Remove(msgspec.Struct, frozen=True):
    """Asked of the router: forget ``topic`` if ``pool`` still serves it. Replies a bool."""

    topic: str
    pool: Any


class RemoveAll(msgspec.Struct, frozen=True):
    """Asked of the router: forget every topic. Replies the removed pools."""


class Seal(msgspec.Struct, frozen=True):
    """Asked of the router at close: forget every topic and refuse new ones. Replies None."""
