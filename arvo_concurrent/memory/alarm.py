"""At most one pending timer for a set of deadlines: set for the earliest one."""

from __future__ import annotations

from collections.abc import Callable

from arvo_concurrent.actors.scheduler import Scheduler, TimerHandle

__all__ = ["Alarm"]


class Alarm:
    """One scheduler timer that fires at or before the earliest deadline it watches.

    When it fires, the owner handles what is due and calls :meth:`rearm`. Releasing a
    lease or granting a waiter leaves the timer as it is; it then fires early,
    harmlessly. Not thread-safe: owned by the memory actor (``fire`` runs on the
    scheduler thread).

    Args:
        scheduler: the timer service.
        fire: called on the scheduler thread when the timer is due.
    """

    def __init__(self, scheduler: Scheduler, fire: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self._fire = fire
        self._handle: TimerHandle | None = None

    def watch(self, deadline: float | None) -> None:
        """Make sure the timer fires no later than ``deadline`` (None: nothing to watch)."""
        if deadline is None:
            return
        if self._handle is not None:
            if self._handle.deadline <= deadline:
                return
            # Lock requests carry their callers' deadlines, which can reach the actor
            # slightly out of order: move the timer earlier rather than fire late.
            self._handle.cancel()
        self._handle = self._scheduler.call_later(deadline - self._scheduler.now(), self._fire)

    def rearm(self, at: float, deadline: float | None) -> None:
        """A timer fired at ``at`` and what was due is handled: watch ``deadline``, if any."""
        # A timer moved earlier may have fired anyway (cancelled as it ran): only a timer
        # that was due at ``at`` is spent; a later one stays set.
        if self._handle is not None and self._handle.deadline <= at:
            self._handle = None
        self.watch(deadline)

    def cancel(self) -> None:
        """Drop the pending timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
