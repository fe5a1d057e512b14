"""The transactional outbox: a handler's memory writes commit with its event's settling.

While the PostgreSQL broker runs an event, it sets the :data:`current` outbox. A
:class:`~arvo_concurrent.postgres.PostgresMachineMemory` on the same database (opened
with the same conninfo) then does not write at once: it adds its writes and its
``unlock`` to the outbox. The broker commits the writes, the "done" and "consumed"
marks of the event, the events its handler published and the unlock in one
transaction (one more round trip, pipelined, than the settling alone). So a workflow
step takes effect exactly once: a crash before that commit leaves no trace (the event
runs again), and a second delivery of an event that committed is skipped. When the
transaction does not commit, the unlocks run on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

__all__ = ["Outbox", "PendingWrite", "current", "outbox_for"]


class PendingWrite:
    """One deferred memory statement, and the error to raise when it changed nothing.

    ``refusal`` None: an unlock, which must run even when the transaction does not
    commit, and whose result is not checked.
    """

    __slots__ = ("params", "refusal", "statement")

    def __init__(
        self,
        statement: bytes,
        params: dict[str, Any],
        refusal: Callable[[], Exception] | None,
    ) -> None:
        self.statement = statement
        self.params = params
        self.refusal = refusal


class Outbox:
    """What one event's handler deferred to the event's settling. One thread uses it.

    ``after``: callbacks run once the statements ran (committed or not).
    """

    __slots__ = ("after", "conninfo", "writes")

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.writes: list[PendingWrite] = []
        self.after: list[Callable[[], object]] = []


current: ContextVar[Outbox | None] = ContextVar("arvo_concurrent_outbox", default=None)
"""The outbox of the event the calling thread runs for the PostgreSQL broker, if any."""


def outbox_for(conninfo: str) -> Outbox | None:
    """The current outbox when its broker uses the database at ``conninfo``; else None."""
    box = current.get()
    return box if box is not None and box.conninfo == conninfo else None
