"""A one-shot reply slot that a caller blocks on while the memory actor answers.

A bare ``threading.Lock`` handed over in the message is the cheapest wake-up CPython
has: a Pykka future or a Pykka ``ask`` waits on a ``Condition``, which takes more
work per hand-off, and the memory's hot path is dominated by these hand-offs.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from arvo_concurrent.errors import WaitTimeoutError

__all__ = ["Reply"]

T = TypeVar("T")


class Reply(Generic[T]):
    """Set once by the actor, read once by the caller.

    :meth:`set` and :meth:`fail` never block and must be called at most once in total;
    :meth:`wait` blocks the caller until one of them was called.
    """

    __slots__ = ("_done", "_error", "_value", "ready")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._error: BaseException | None = None
        self.ready = False

    def set(self, value: T) -> None:
        """Deliver the answer."""
        self._value = value
        self.ready = True
        self._done.release()

    def fail(self, error: BaseException) -> None:
        """Deliver an error; :meth:`wait` raises it in the caller."""
        self._error = error
        self.ready = True
        self._done.release()

    def wait(self, timeout: float) -> T:
        """Block until the answer arrives, at most ``timeout`` seconds.

        Raises:
            WaitTimeoutError: when no answer came in time (the memory's callers turn
                it into a :class:`~arvo_concurrent.memory.errors.MemoryTimeoutError`).
            Exception: the error given to :meth:`fail`.
        """
        if not self._done.acquire(timeout=timeout):
            raise WaitTimeoutError(f"No answer from the memory actor within {timeout:g} s", timeout)
        if self._error is not None:
            raise self._error
        return self._value
