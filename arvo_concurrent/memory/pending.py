"""A lock request in flight: sent to the memory actor, answered when granted or refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arvo_concurrent.memory.messages import Grant
from arvo_concurrent.memory.reply import Reply

__all__ = ["PendingLock"]


class PendingLock:
    """The answer to ``ConcurrentMachineMemory.request_lock``, to wait for later.

    The request is queued when this object is created, so requests made one after the
    other from one thread are granted in that order. ``owner`` holds the lock only once
    :meth:`wait` returned True. Meant for one waiting thread; :meth:`done` may be
    called from any.
    """

    def __init__(
        self,
        machine_id: str,
        owner: Any,
        reply: Reply[Grant | None],
        collect: Callable[[], bool],
    ) -> None:
        self.machine_id = machine_id
        self.owner = owner
        self._reply = reply
        self._collect = collect
        self._result: bool | None = None

    def done(self) -> bool:
        """Whether the memory has answered (never blocks)."""
        return self._reply.ready

    def wait(self) -> bool:
        """Block until the lock is granted or the request gives up.

        Blocks at most the longest wait (the lease TTL, or the wait budget if longer)
        plus the memory's answer timeout, counted from the request.

        Returns:
            True when ``owner`` now holds the lock, False when the request gave up.

        Raises:
            ClosedError: the memory closed while the request waited.
            MemoryTimeoutError: the memory did not answer at all.
        """
        if self._result is None:
            self._result = self._collect()
        return self._result
