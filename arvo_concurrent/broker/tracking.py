"""Work tracking per lineage: knowing when an event and everything it caused are done.

A :class:`WorkTracker` counts the events in flight on behalf of someone. The broker
keeps one for all of its work (``wait_for_idle``), and ``publish(event, trackers=...)``
adds others: each event carries its *lineage*, the tuple of trackers it counts in, and
every event a handler publishes through the ``publish`` it was given inherits the
lineage of the event being handled. So a caller that publishes one event in a fresh
tracker can wait for that event and all its descendants, independently of any other
traffic on the same broker. This is what ``resolve(event)`` builds on.

Counting rules (the broker keeps them; a tracker only counts):

* an event's count is added to each tracker of its lineage synchronously, in the
  publishing thread, before the event is queued;
* it is released only after its handler returned, so children published by the
  handler are always counted before their parent is released: a lineage never looks
  idle while any of its work is queued or running;
* an event that is dropped (unsubscribe, clear, close, routing failure) releases its
  count after it was recorded on its lineage and reported to ``on_error`` (at close,
  ``on_error`` hears of it afterwards, from a thread of its own).

Errors and abandonment: a tracker made with ``record_errors=True`` keeps every
``(error, event)`` the broker reports for an event of its lineage, recorded before that
event's count is released (so a waiter woken by idleness sees them all). A tracker
that is abandoned (:meth:`~WorkTracker.abandon`: its ``resolve`` timed out) stops its
lineage: the broker routes none of its new events and drops its waiting ones.

Capture: a tracker may name a ``capture_topic`` and an ``on_capture`` callback. An
event published in its lineage whose ``to`` equals ``capture_topic`` is handed to
``on_capture`` (in the publishing thread) instead of being routed; it is neither a
routing failure nor in-flight work. That is how ``resolve`` collects the events routed
back to its initial event's ``source``, for many concurrent resolves on one broker,
even with the same source. When several trackers of a lineage capture the same topic,
the first in the lineage wins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from arvo_concurrent.errors import ArgumentError

__all__ = ["Lineage", "WorkTracker", "acquire", "release"]

logger = logging.getLogger(__name__)


class WorkTracker:
    """A thread-safe count of in-flight work with an idle notification.

    Every method is thread-safe. Only :meth:`wait_idle` blocks; idle callbacks run in the
    thread whose :meth:`done` released the last count (often a pool worker), so they
    must be quick.

    Args:
        capture_topic: events of this lineage with this ``to`` go to ``on_capture``.
        on_capture: ``on_capture(event)``, called in the publishing thread; if it
            raises, the broker reports the error to its ``on_error`` with the event.
        record_errors: keep the errors reported for this lineage (:attr:`errors`).

    Raises:
        ArgumentError: only one of ``capture_topic`` and ``on_capture`` was given, or
            ``capture_topic`` is not a non-empty string.
    """

    __slots__ = (
        "_abandon_callbacks",
        "_capture",
        "_cond",
        "_count",
        "_errors",
        "_idle_callbacks",
        "_lock",
        "abandoned",
        "capture_topic",
    )

    def __init__(
        self,
        *,
        capture_topic: str | None = None,
        on_capture: Callable[[Any], object] | None = None,
        record_errors: bool = False,
    ) -> None:
        if (capture_topic is None) != (on_capture is None):
            raise ArgumentError(
                "capture_topic and on_capture go together: got "
                f"capture_topic={capture_topic!r}, on_capture={on_capture!r}",
                "capture_topic",
                capture_topic,
            )
        if capture_topic is not None and (not isinstance(capture_topic, str) or not capture_topic):
            raise ArgumentError(
                f"capture_topic must be a non-empty string, got {capture_topic!r}",
                "capture_topic",
                capture_topic,
            )
        self.capture_topic = capture_topic
        self._capture = on_capture
        # One entry per piece of work in flight. Counting is a list append or pop, atomic
        # on its own (Python FAQ, "What kinds of global value mutation are thread-safe?"),
        # and takes no lock: every worker of a broker counts every hop in its root
        # tracker, and a lock shared that widely forms a convoy under the GIL: a blocked
        # waiter is granted the lock while it still waits for the GIL, so the next
        # acquirer blocks too, and so on (benchmarks/NOTES.md). Only idle waits and
        # wake-ups take the lock, through the Condition built on it.
        self._count: list[None] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._idle_callbacks: list[Callable[[], object]] = []
        self._errors: list[tuple[Exception, Any]] | None = [] if record_errors else None
        self.abandoned = False
        """Whether :meth:`abandon` was called: the lineage is stopped."""
        self._abandon_callbacks: list[Callable[[], object]] = []

    @property
    def pending(self) -> int:
        """The work in flight right now."""
        return len(self._count)

    def add(self, n: int = 1) -> None:
        """Count ``n`` more pieces of work. Never blocks."""
        if n < 1:
            raise ArgumentError(f"add(n) needs n >= 1, got n={n!r}", "n", n)
        if n == 1:
            self._count.append(None)
        else:
            self._count.extend([None] * n)

    def done(self, n: int = 1) -> None:
        """Release ``n`` pieces of work; reaching zero wakes waiters and idle callbacks.

        Raises:
            ArgumentError: ``n`` is below 1 or more than :attr:`pending` (a ValueError).
        """
        count = self._count
        if n < 1 or n > len(count):
            raise ArgumentError(
                f"done(n) needs 1 <= n <= pending ({len(count)}), got n={n!r}", "n", n
            )
        for _ in range(n):
            count.pop()
        if count:
            return
        # Whoever empties the list wakes the waiters, unless new work arrived meanwhile:
        # then the thread that releases that work last does it.
        with self._lock:
            if count:
                return
            self._cond.notify_all()
            callbacks, self._idle_callbacks = self._idle_callbacks, []
        _run_all(callbacks)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is in flight, or ``timeout`` seconds (None: no limit).

        Returns:
            True if idle, False on timeout.
        """
        with self._cond:
            return self._cond.wait_for(lambda: not self._count, timeout)

    def when_idle(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, the next time nothing is in flight.

        If nothing is in flight now, it runs at once in the calling thread; otherwise in
        the thread that releases the last count. A callback that raises is logged.
        """
        with self._cond:
            if self._count:
                self._idle_callbacks.append(callback)
                return
        _run_all([callback])

    def record_error(self, error: Exception, event: Any) -> None:
        """Keep ``(error, event)`` if this tracker records errors; otherwise do nothing."""
        if self._errors is not None:
            with self._lock:
                self._errors.append((error, event))

    @property
    def errors(self) -> tuple[tuple[Exception, Any], ...]:
        """The ``(error, event)`` pairs recorded so far, in report order."""
        with self._lock:
            return tuple(self._errors or ())

    def abandon(self) -> None:
        """Stop this lineage: the broker routes none of its new events, drops its waiting ones.

        Idempotent. Events already running finish. Runs the :meth:`when_abandoned`
        callbacks in this thread, once (a durable transport records the abandonment
        there, for the other processes: one round trip); otherwise never blocks.
        """
        with self._lock:
            if self.abandoned:
                return
            self.abandoned = True
            callbacks, self._abandon_callbacks = self._abandon_callbacks, []
        _run_all(callbacks)

    def when_abandoned(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, when :meth:`abandon` is first called (at once if it was).

        It runs in the thread that abandons; one that raises is logged.
        """
        with self._lock:
            if not self.abandoned:
                self._abandon_callbacks.append(callback)
                return
        _run_all([callback])

    def capture(self, event: Any) -> None:
        """Hand ``event`` to ``on_capture``; the broker calls it for ``capture_topic`` events."""
        if self._capture is None:
            raise ArgumentError(
                f"{self!r} captures nothing: it has no capture_topic", "capture_topic", None
            )
        self._capture(event)

    def __repr__(self) -> str:
        return f"WorkTracker(pending={self.pending}, capture_topic={self.capture_topic!r})"


def _run_all(callbacks: list[Callable[[], object]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except BaseException:
            # The releasing thread is usually a pool worker: a bad callback must neither
            # stop it nor skip the releases that follow (a BaseException included).
            logger.exception("Tracker callback (idle or abandon) %r failed", callback)


Lineage = tuple[WorkTracker, ...]
"""The trackers an event counts in: the broker's own first, then its publisher's."""


def acquire(lineage: Lineage) -> None:
    """Count one piece of work in every tracker of ``lineage``."""
    for tracker in lineage:
        tracker.add()


def release(lineage: Lineage) -> None:
    """Release one piece of work in every tracker of ``lineage``."""
    for tracker in lineage:
        tracker.done()
