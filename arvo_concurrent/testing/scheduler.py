"""A scheduler whose clock stands still until a test moves it.

It has the interface the library's timers use (``now``, ``call_later``, ``close``), so
a :class:`~arvo_concurrent.ConcurrentMachineMemory` built with ``scheduler=`` one of
these expires leases and ends lock waits only when the test calls
:meth:`ManualScheduler.advance`: time-based behaviour is tested without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from arvo_concurrent.actors.scheduler import TimerHandle, TimerHeap, run_timer
from arvo_concurrent.errors import ArgumentError

__all__ = ["ManualScheduler"]


class ManualScheduler:
    """A scheduler for tests: time stands still until :meth:`advance` is called.

    Callbacks run in the thread that calls :meth:`advance`, in deadline order.
    Thread-safe.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap = TimerHeap()
        self._lock = threading.Lock()

    def now(self) -> float:
        """The manual clock, in seconds."""
        with self._lock:
            return self._now

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule ``callback`` for ``now() + delay_s``; it runs inside a later :meth:`advance`."""
        with self._lock:
            handle = TimerHandle(self._now + max(0.0, delay_s), callback)
            self._heap.push(handle)
        return handle

    def advance(self, seconds: float) -> int:
        """Move the clock forward and run every callback that became due; returns how many ran.

        Callbacks run in this thread, so this blocks for as long as they take.

        Raises:
            ArgumentError: ``seconds`` is negative (a ValueError).
        """
        if seconds < 0:
            raise ArgumentError(
                f"Cannot move a clock backwards (seconds={seconds!r})", "seconds", seconds
            )
        ran = 0
        with self._lock:
            target = self._now + seconds
        while True:
            with self._lock:
                nxt = self._heap.next_deadline()
                if nxt is None or nxt > target:
                    self._now = target
                    return ran
                self._now = max(self._now, nxt)
                due = self._heap.pop_due(self._now)
            for handle in due:
                run_timer(handle)
                ran += 1

    def pending(self) -> int:
        """How many callbacks are scheduled and not cancelled."""
        with self._lock:
            return self._heap.live()

    def close(self, timeout: float | None = None) -> None:
        """Drop every pending callback."""
        with self._lock:
            self._heap.clear()
