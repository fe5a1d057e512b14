"""Shutdown helpers shared by everything that owns actors.

:class:`ClosingSignal` is the "close has started" flag a component hands out: a real
:class:`threading.Event` (so ``tenacity.sleep_using_event`` and ``Event.wait`` work on
it) that only its owner can set. :func:`await_stopped` waits for many actors to stop
against one shared deadline, which ``ActorRegistry.stop_all(timeout=)`` cannot do (its
timeout is per actor, and one straggler leaves the rest unstopped). :class:`Closeable`
makes anything with a ``close()`` a context manager, and :func:`check_timeout` checks
a ``timeout=`` argument the same way everywhere.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from threading import Event
from types import TracebackType
from typing import Any, Self

import pykka

from arvo_concurrent.errors import ArgumentError

__all__ = [
    "Closeable",
    "ClosingSignal",
    "StopRequest",
    "await_stopped",
    "check_timeout",
    "deadline_after",
    "remaining",
]

logger = logging.getLogger(__name__)

StopRequest = tuple[pykka.ActorRef[Any], pykka.Future[bool]]
"""An actor that was asked to stop, and the future its stop acknowledgement sets."""


class Closeable:
    """Base of everything that owns threads: ``with x:`` calls ``x.close()`` on the way out."""

    def close(self, timeout: float | None = 10.0) -> None:
        """Release what the object owns; idempotent. Subclasses implement it."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ClosingSignal(Event):
    """A :class:`threading.Event` that is set once, by its owner, when closing starts.

    Anyone may ``is_set()`` or ``wait(timeout)`` on it (thread-safe); ``set()`` and
    ``clear()`` raise, because only the owning component decides when it closes: it
    calls :meth:`trip`, and hands the signal out (a broker's ``closing``) for others
    to wait on.
    """

    def set(self) -> None:
        """Refuse: the signal is read-only outside its owner."""
        raise AttributeError("ClosingSignal is read-only: close its owner instead")

    def clear(self) -> None:
        """Refuse: closing cannot be undone."""
        raise AttributeError("ClosingSignal is read-only: closing cannot be undone")

    def trip(self) -> None:
        """Set the signal, waking every waiter; for its owner only, as its close starts.

        Thread-safe, idempotent, never blocks.
        """
        Event.set(self)


def check_timeout(timeout: object) -> None:
    """Refuse a ``timeout=`` that is not None or a finite number of seconds >= 0.

    Raises:
        ArgumentError: naming the value (a ValueError).
    """
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ArgumentError(
            f"timeout must be None or a number of seconds >= 0, got {timeout!r}", "timeout", timeout
        )
    if math.isinf(timeout):
        raise ArgumentError(
            f"timeout must be finite (use None to wait without limit), got {timeout!r}",
            "timeout",
            timeout,
        )


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic deadline ``timeout`` seconds from now (None: no deadline)."""
    return None if timeout is None else time.monotonic() + timeout


def remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (never negative; None: no deadline)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def await_stopped(requests: Iterable[StopRequest], deadline: float | None) -> int:
    """Wait until every requested actor has stopped, or ``deadline`` passes.

    Blocks the caller. An actor whose current message outlives the deadline is left to
    finish on its (daemon) thread and is logged. Thread-safe.

    Returns:
        How many actors had not stopped by the deadline.
    """
    late = 0
    for ref, stopped in requests:
        try:
            stopped.get(timeout=remaining(deadline))
        except pykka.Timeout:
            late += 1
            logger.warning("%s did not stop before the close deadline; left to finish", ref)
    return late
