"""A machine memory for handler tests: a dict behind a lock that records every call.

It implements the ``IMachineMemory`` protocol (read / write / lock / unlock / cleanup)
and keeps a log of ``(operation, id)`` so tests can assert the order in which the
orchestration wrapper calls them. Reads and writes deep-copy, as the real memory does.
Locks are not exclusive: handler unit tests check the call order, and the real
``ConcurrentMachineMemory`` covers exclusivity.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any


class RecordingMemory:
    """In-process ``IMachineMemory`` that records calls and can be told to fail.

    Attributes:
        calls: ``(operation, id)`` tuples in call order.
        writes: ``(id, data, prev_data, metadata)`` for each write, in order.
        grant_locks: ``lock()`` returns this value.
        fail_on: operation name -> exception raised by that operation.
    """

    def __init__(self, *, with_cleanup: bool = True) -> None:
        self._mutex = threading.Lock()
        self.store: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.writes: list[tuple[str, dict[str, Any], dict[str, Any] | None, Any]] = []
        self.grant_locks = True
        self.fail_on: dict[str, Exception] = {}
        if with_cleanup:
            self.cleanup: Callable[[str], None] = self._cleanup

    def _record(self, operation: str, id: str) -> None:
        self.calls.append((operation, id))
        failure = self.fail_on.get(operation)
        if failure is not None:
            raise failure

    def read(self, id: str) -> dict[str, Any] | None:
        with self._mutex:
            self._record("read", id)
            return copy.deepcopy(self.store.get(id))

    def write(
        self,
        id: str,
        data: dict[str, Any],
        prev_data: dict[str, Any] | None = None,
        metadata: Any = None,
    ) -> None:
        with self._mutex:
            self._record("write", id)
            self.writes.append((id, copy.deepcopy(data), copy.deepcopy(prev_data), metadata))
            self.store[id] = copy.deepcopy(data)

    def lock(self, id: str) -> bool:
        with self._mutex:
            self._record("lock", id)
            return self.grant_locks

    def unlock(self, id: str) -> bool:
        with self._mutex:
            self._record("unlock", id)
            return True

    def _cleanup(self, id: str) -> None:
        with self._mutex:
            self._record("cleanup", id)
            self.store.pop(id, None)

    def operations(self) -> list[str]:
        """The recorded operation names, in order."""
        with self._mutex:
            return [operation for operation, _ in self.calls]


class LockReadingMemory(RecordingMemory):
    """A :class:`RecordingMemory` that also offers ``lock_and_read`` (recorded as one call)."""

    def lock_and_read(self, id: str) -> tuple[bool, dict[str, Any] | None]:
        with self._mutex:
            self._record("lock_and_read", id)
            if not self.grant_locks:
                return False, None
            return True, copy.deepcopy(self.store.get(id))
