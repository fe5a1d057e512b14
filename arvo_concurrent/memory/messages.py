"""The messages the memory facade and the scheduler send to the memory actor.

Every message is sent with ``tell``. One that needs an answer carries a
:class:`~arvo_concurrent.memory.reply.Reply` the actor fills in, which lets the actor
answer a lock request later, when the lock frees, instead of at once.
"""

from __future__ import annotations

from typing import Any

import msgspec

from arvo_concurrent.memory.reply import Reply

__all__ = [
    "Abandon",
    "Acquire",
    "Cleanup",
    "Clear",
    "Grant",
    "LeasesDue",
    "Read",
    "Release",
    "WaitsDue",
    "Write",
]


class Grant(msgspec.Struct, frozen=True):
    """The answer to a granted :class:`Acquire`.

    Attributes:
        fence: the lease's fencing number (every new lease gets a larger one; a renewal
            keeps it).
        data: the stored state at grant time (shared, never mutated; copy before handing out).
        expires_at: the scheduler time at which the lease expires.
    """

    fence: int
    data: Any
    expires_at: float


class Acquire(msgspec.Struct, frozen=True):
    """Lock ``machine_id`` for ``owner``; answer a Grant, or None once the request gives up.

    ``asked_at`` is the scheduler time at which the caller asked, so the time the
    request spent in the actor's inbox counts against its wait.
    """

    machine_id: str
    owner: Any
    ticket: int
    asked_at: float
    reply: Reply[Grant | None]


class Abandon(msgspec.Struct, frozen=True):
    """The caller of Acquire ``ticket`` stopped waiting: drop its wait or give back its lease."""

    machine_id: str
    ticket: int


class Release(msgspec.Struct, frozen=True):
    """Unlock ``machine_id`` for ``owner``.

    With ``fence`` set, only the lease with that fencing number is released; without,
    the lease in force is released if ``owner`` holds it. With ``reply`` set the actor
    answers True when the id is no longer locked by anyone else (released, or not
    locked at all) and False when another lease is in force.
    """

    machine_id: str
    owner: Any
    fence: int | None
    reply: Reply[bool] | None


class Read(msgspec.Struct, frozen=True):
    """Answer the stored state of ``machine_id`` (or None)."""

    machine_id: str
    reply: Reply[Any]


class Write(msgspec.Struct, frozen=True):
    """Store ``data`` (already a private copy) as written by ``owner``.

    ``fence`` is the fencing number of the last lease ``owner`` was granted on the id
    and has not unlocked, or None if there is none: the actor refuses (a FencingError
    in the reply) a write whose lease is no longer the latest one granted on the id, and
    a write without a lease while someone else's lease is in force. Without ``reply``
    the facade vouched that the lease is in force: there is nothing to answer.
    """

    machine_id: str
    data: Any
    owner: Any
    fence: int | None
    reply: Reply[None] | None


class Cleanup(msgspec.Struct, frozen=True):
    """Delete the state of ``machine_id``, and its lease unless ``owner`` holds it."""

    machine_id: str
    owner: Any
    reply: Reply[None]


class Clear(msgspec.Struct, frozen=True):
    """Delete every state and lease."""

    reply: Reply[None]


class LeasesDue(msgspec.Struct, frozen=True):
    """From the scheduler: expire every lease whose expiry is at or before ``at``."""

    at: float


class WaitsDue(msgspec.Struct, frozen=True):
    """From the scheduler: refuse every lock request whose deadline is at or before ``at``."""

    at: float
