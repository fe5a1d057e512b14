"""At most one pending timer for a set of deadlines that only grows later ones."""

from __future__ import annotations

from collections.abc import Callable

from arvo_concurrent.actors.scheduler import Scheduler, TimerHandle

__all__ = ["Alarm"]


class Alarm:
    """One scheduler timer that fires at or before the earliest deadline it watches.

    Leases and waits each share one duration, so a new deadline is never earlier than
    the ones already watched: one timer set for the earliest is never late. When it
    fires, the owner handles what is due and calls :meth:`rearm`. Releasing a lease or
    granting a waiter leaves the timer as it is; it then fires early, harmlessly.
    Not thread-safe: owned by the memory actor (``fire`` runs on the scheduler thread).

    Args:
        scheduler: the timer service.
        fire: called on the scheduler thread when the timer is due.
    """

    def __init__(self, scheduler: Scheduler, fire: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self._fire = fire
        self._handle: TimerHandle | None = None

    def watch(self, earliest: float | None) -> None:
        """Make sure a timer is set if there is a deadline (``earliest``) to watch."""
        if self._handle is None and earliest is not None:
            delay = earliest - self._scheduler.now()
            self._handle = self._scheduler.call_later(delay, self._fire)

    def rearm(self, earliest: float | None) -> None:
        """The timer fired and what was due is handled: set it for ``earliest``, if any."""
        self._handle = None
        self.watch(earliest)

    def cancel(self) -> None:
        """Drop the pending timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
