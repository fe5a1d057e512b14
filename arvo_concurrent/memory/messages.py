"""The messages the memory facade and the scheduler send to the memory actor.

Every message is sent with ``tell``. One that needs an answer carries a
:class:`~arvo_concurrent.memory.reply.Reply` the actor fills in, which lets the actor
answer a lock request later, when the lock frees, instead of at once.
"""

from __future__ import annotations

from typing import Any

import msgspec

from arvo_concurrent.memory.lease import Contention
from arvo_concurrent.memory.reply import Reply

__all__ = [
    "Abandon",
    "Acquire",
    "Batch",
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
        fence: the lease's fencing number (grows with every new lease).
        data: the stored state at grant time (shared, never mutated; copy before handing out).
        expires_at: the scheduler time at which the lease expires.
        resets: how many cleanup/clear messages the actor had handled at grant time.
        contention: the lease's contention flag (see :class:`Contention`).
    """

    fence: int
    data: Any
    expires_at: float
    resets: int
    contention: Contention


class Acquire(msgspec.Struct, frozen=True):
    """Lock ``machine_id`` for ``owner``; answer a Grant, or None once the wait budget is spent."""

    machine_id: str
    owner: Any
    ticket: int
    reply: Reply[Grant | None]


class Abandon(msgspec.Struct, frozen=True):
    """The caller of Acquire ``ticket`` stopped waiting: drop its wait or give back its lease."""

    machine_id: str
    ticket: int


class Release(msgspec.Struct, frozen=True):
    """Unlock ``machine_id``.

    With ``fence`` set, it is the holder releasing a lease it knows to be live: store
    ``data`` first if set, release that lease, no reply. Without, the actor checks the
    owner and answers whether the id is now free of ``owner``'s lock.
    """

    machine_id: str
    owner: Any
    fence: int | None = None
    reply: Reply[bool] | None = None
    data: Any = msgspec.UNSET


class Read(msgspec.Struct, frozen=True):
    """Answer the stored state of ``machine_id`` (or None)."""

    machine_id: str
    reply: Reply[Any]


class Write(msgspec.Struct, frozen=True):
    """Store ``data`` (already a private copy).

    With ``fence`` set it is a holder's write flushed under a lease that is still in
    force (no reply); without, the actor checks the owner and answers None or a
    FencingError.
    """

    machine_id: str
    data: Any
    owner: Any
    fence: int | None = None
    reply: Reply[None] | None = None


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
    """From the scheduler: refuse every lock request whose wait budget ends at or before ``at``."""

    at: float


class Batch(msgspec.Struct, frozen=True):
    """Several messages queued as one, handled in order (one hand-off instead of several)."""

    messages: tuple[Any, ...]
