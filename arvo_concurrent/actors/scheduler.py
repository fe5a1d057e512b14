"""One timer thread for every delayed message of the library.

Pykka actors cannot wake themselves up, so lease expiries, lock-wait deadlines and
retry delays are scheduled here: a heap of deadlines served by one daemon thread
that calls each callback when its time comes. Callbacks run on the scheduler
thread and must be quick and must not block: the usual one is an ``ActorRef.tell``.

:class:`arvo_concurrent.testing.ManualScheduler` has the same interface and a clock
that only moves when a test calls its ``advance``, so time-based behaviour is tested
without sleeping; it shares :class:`TimerHeap` and :func:`run_timer` with
:class:`ThreadScheduler`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from arvo_concurrent.errors import ClosedError

__all__ = [
    "Scheduler",
    "ThreadScheduler",
    "TimerHandle",
    "TimerHeap",
    "acquire_shared_scheduler",
    "run_timer",
]

logger = logging.getLogger(__name__)


class TimerHandle:
    """A scheduled callback; :meth:`cancel` stops it from running if it has not run yet."""

    __slots__ = ("_cancelled", "callback", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], object]) -> None:
        self.deadline = deadline
        self.callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        """Cancel the callback. Thread-safe and idempotent; never blocks."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled


class Scheduler(Protocol):
    """What the actors need from a timer service."""

    def now(self) -> float:
        """The scheduler's monotonic clock, in seconds."""
        ...

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once, ``delay_s`` seconds from now, on the timer thread."""
        ...

    def close(self, timeout: float | None = None) -> None:
        """Release the scheduler; pending callbacks are dropped."""
        ...


def run_timer(handle: TimerHandle) -> None:
    """Run a due callback; one that raises is logged, never propagated."""
    try:
        handle.callback()
    except Exception:
        # A failing callback must not take the timer thread (and every other timer) down.
        logger.exception("Scheduled callback %r failed", handle.callback)


class TimerHeap:
    """Deadline-ordered handles; ties keep scheduling order. Not thread-safe: callers lock."""

    def __init__(self) -> None:
        self._entries: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()

    def push(self, handle: TimerHandle) -> bool:
        """Add a handle; True when it became the earliest one."""
        heapq.heappush(self._entries, (handle.deadline, next(self._seq), handle))
        return self._entries[0][2] is handle

    def pop_due(self, now: float) -> list[TimerHandle]:
        """Remove and return the handles due at ``now``, cancelled ones left out."""
        due: list[TimerHandle] = []
        while self._entries and self._entries[0][0] <= now:
            handle = heapq.heappop(self._entries)[2]
            if not handle.cancelled:
                due.append(handle)
        return due

    def next_deadline(self) -> float | None:
        """The earliest deadline, None when empty."""
        return self._entries[0][0] if self._entries else None

    def live(self) -> int:
        """How many handles are not cancelled."""
        return sum(1 for _, _, handle in self._entries if not handle.cancelled)

    def clear(self) -> None:
        """Drop every handle."""
        self._entries.clear()


class ThreadScheduler:
    """A real-time scheduler: one daemon thread sleeping until the next deadline.

    The thread starts with the first :meth:`call_later` and ends at :meth:`close`.
    Every method is thread-safe; only :meth:`close` blocks (joining the thread).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap = TimerHeap()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        """The monotonic clock the deadlines use, in seconds."""
        return self._clock()

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule ``callback`` ``delay_s`` seconds from now (a negative delay means now).

        Raises:
            ClosedError: after :meth:`close`.
        """
        handle = TimerHandle(self._clock() + max(0.0, delay_s), callback)
        with self._cond:
            if self._closed:
                raise ClosedError("scheduler")
            if self._heap.push(handle):
                self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="arvo-scheduler", daemon=True
                )
                self._thread.start()
        return handle

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = self._clock()
                    due = self._heap.pop_due(now)
                    if due:
                        break
                    deadline = self._heap.next_deadline()
                    self._cond.wait(None if deadline is None else deadline - now)
                if self._closed:
                    return
            for handle in due:
                if not handle.cancelled:
                    run_timer(handle)

    def close(self, timeout: float | None = None) -> None:
        """Stop the thread and drop pending callbacks. Idempotent.

        Blocks until the timer thread has ended, or ``timeout`` seconds.
        """
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class _SharedScheduler:
    """A reference-counted view of the process-wide scheduler."""

    def __init__(self, owner: _SharedRegistry, inner: ThreadScheduler) -> None:
        self._owner = owner
        self._inner = inner
        self._released = False

    def now(self) -> float:
        return self._inner.now()

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        return self._inner.call_later(delay_s, callback)

    def close(self, timeout: float | None = None) -> None:
        if not self._released:
            self._released = True
            self._owner.release(timeout)


class _SharedRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner: ThreadScheduler | None = None
        self._users = 0

    def acquire(self) -> _SharedScheduler:
        with self._lock:
            if self._inner is None:
                self._inner = ThreadScheduler()
            self._users += 1
            return _SharedScheduler(self, self._inner)

    def release(self, timeout: float | None) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._inner is None:
                return
            inner, self._inner = self._inner, None
        inner.close(timeout)


_shared = _SharedRegistry()


def acquire_shared_scheduler() -> Scheduler:
    """Return a handle on the one process-wide timer thread.

    Memories and brokers share it; each ``close()`` of a handle releases one
    reference, and the thread ends when the last handle is closed, so a closed
    library leaves no thread behind. Thread-safe.
    """
    return _shared.acquire()
