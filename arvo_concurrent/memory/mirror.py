"""The facade's copy of the leases its callers hold, and of the state they wrote.

With it, a holder's read and write need no message to the memory actor, and its
unlock carries its last write and, while nobody else wants the lock, travels with the
next message the actor gets: an uncontended lock/read/write/unlock cycle costs one
round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import msgspec

from arvo_concurrent.memory.lease import Contention
from arvo_concurrent.memory.messages import Batch, Grant, LeasesDue, Release, Write

__all__ = ["Held", "LeaseMirror", "Send"]

Send = Callable[[object], None]


class Held:
    """A lease as its holder last saw it, and the state as the holder last wrote it."""

    __slots__ = ("contention", "data", "dirty", "expires_at", "fence", "owner")

    def __init__(self, owner: Any, grant: Grant) -> None:
        self.owner = owner
        self.fence = grant.fence
        self.expires_at = grant.expires_at
        self.contention: Contention = grant.contention
        self.data = grant.data
        self.dirty = False

    def flush(self, machine_id: str) -> Write:
        """The message that stores the holder's unsent write (the entry becomes clean)."""
        self.dirty = False
        return Write(machine_id, self.data, self.owner, self.fence)


class LeaseMirror:
    """Leases granted through one facade, by machine id, with their holders' writes. Thread-safe.

    While a lease is live, only its holder can change the machine's state (anyone
    else's write is fenced), so the holder's last write, or the grant's snapshot, *is*
    the machine's state: every thread reads it from here, and the holder's write stays
    here ("dirty") until something must see it in the actor. A dirty write reaches the
    actor, always under the lease it was made with, before any of:

    * the holder's release (it travels in the :class:`Release`),
    * the lease's expiry (the expiry timer flushes every due write, then expires),
    * any other message about that id once the lease is no longer live, and any
      message about it from the holder itself (:meth:`settle`).

    A release is held back ("deferred") while nobody has asked for that lock, and goes
    out ahead of the next message any thread sends the actor (:meth:`send`), or is
    collected by the actor itself when a request finds the lock taken
    (:meth:`take_deferred`). Cleanup and clear drop entries, dirty or not, before they
    reach the actor: the same effect as storing the write and then deleting it.

    ``gate`` orders a holder's write and release against the expiry timer, against
    cleanup and clear, and against the actor collecting deferred releases: each checks
    the clock or the entries and queues its messages while holding it. Queuing never
    blocks, so holding the gate never waits for the actor.

    Args:
        clock: the scheduler's clock, the one lease expiries are measured on.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.gate = threading.Lock()
        self._clock = clock
        self._held: dict[str, Held] = {}
        self._deferred: list[Release] = []
        self._resets_sent = 0

    def remember(self, machine_id: str, owner: Any, grant: Grant) -> None:
        """Record a lease just granted to ``owner``."""
        with self.gate:
            if grant.resets == self._resets_sent:
                self._held[machine_id] = Held(owner, grant)
            else:
                # A cleanup or clear was sent after the actor granted this lease and may
                # have dropped it already: trust the actor, not a copy, for this lease.
                self._held.pop(machine_id, None)

    def live(self, machine_id: str) -> Held | None:
        """The entry for ``machine_id`` if its lease has not expired."""
        held = self._held.get(machine_id)
        if held is None or self._clock() >= held.expires_at:
            return None
        return held

    def write(self, machine_id: str, owner: Any, data: Any) -> bool:
        """Keep ``data`` as the state if ``owner`` holds a live lease; else return False."""
        with self.gate:
            held = self.live(machine_id)
            if held is None or held.owner != owner:
                return False
            held.data = data
            held.dirty = True
            return True

    def release(self, machine_id: str, owner: Any, send: Send) -> bool:
        """If ``owner`` holds a live lease, drop it and release it (with any write).

        The release is sent at once if someone asked for the lock meanwhile, else
        deferred. Returns False (and does nothing) when ``owner`` holds no live lease here.
        """
        with self.gate:
            held = self.live(machine_id)
            if held is None or held.owner != owner:
                return False
            del self._held[machine_id]
            data = held.data if held.dirty else msgspec.UNSET
            release = Release(machine_id, owner, held.fence, data=data)
            if held.contention.contended:
                self._send_locked(release, send)
            else:
                self._deferred.append(release)
            return True

    def send(self, message: object, send: Send) -> None:
        """Send ``message``, preceded by every deferred release."""
        if not self._deferred:
            send(message)
            return
        with self.gate:
            self._send_locked(message, send)

    def _send_locked(self, message: object, send: Send) -> None:
        if self._deferred:
            message = Batch((*self._deferred, message))
            self._deferred.clear()
        send(message)

    def take_deferred(self) -> list[Release]:
        """For the actor: collect the deferred releases, to apply them itself."""
        with self.gate:
            taken, self._deferred = self._deferred, []
        return taken

    def settle(self, machine_id: str, sender: Any, send: Send) -> None:
        """Before ``sender`` sends the actor a message about ``machine_id``: flush what it must see.

        A live lease's write is flushed only for its holder; anyone else's message is
        either answered from here (reads) or ordered behind the holder (locks, fenced
        writes).
        """
        held = self._held.get(machine_id)
        if held is None or not held.dirty:
            return
        with self.gate:
            if not held.dirty or (self.live(machine_id) is held and held.owner != sender):
                return
            self._send_locked(held.flush(machine_id), send)

    def expire(self, send: Send) -> None:
        """From the expiry timer: flush the writes of every lease due now, then expire them."""
        with self.gate:
            at = self._clock()
            due = [(i, h) for i, h in self._held.items() if h.expires_at <= at]
            flushes: list[object] = []
            for machine_id, held in due:
                del self._held[machine_id]
                if held.dirty:
                    flushes.append(held.flush(machine_id))
            self._send_locked(Batch((*flushes, LeasesDue(at))), send)

    def reset(self, machine_id: str | None, send: Send, message: object) -> None:
        """Drop the entry of ``machine_id`` (every entry if None), then send ``message``."""
        with self.gate:
            self._resets_sent += 1
            if machine_id is None:
                self._held.clear()
            else:
                self._held.pop(machine_id, None)
            self._send_locked(message, send)
