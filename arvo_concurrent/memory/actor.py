"""The memory actor: the one thread that owns every state, lease and waiting lock request."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import msgspec
import pykka

from arvo_concurrent.actors.base import LibraryActor
from arvo_concurrent.actors.scheduler import Scheduler
from arvo_concurrent.errors import ClosedError
from arvo_concurrent.memory.alarm import Alarm
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.errors import FencingError
from arvo_concurrent.memory.lease import Lease, LeaseBook
from arvo_concurrent.memory.messages import (
    Abandon,
    Acquire,
    Batch,
    Cleanup,
    Clear,
    Grant,
    LeasesDue,
    Read,
    Release,
    WaitsDue,
    Write,
)
from arvo_concurrent.memory.mirror import LeaseMirror
from arvo_concurrent.memory.reply import Reply
from arvo_concurrent.memory.waiters import Waiter, WaitQueues

__all__ = ["MemoryActor"]

logger = logging.getLogger(__name__)


class MemoryActor(LibraryActor):
    """Serialises every memory operation; grants locks FIFO per id; expires leases on a timer.

    Args:
        config: the memory's settings.
        scheduler: the timer service; its clock is the lease and wait clock.
        mirror: the facade's copy of the leases it holds; the expiry timer goes through it,
            so that holders' unsent writes reach the actor before their leases expire.
        started: the actor appends its thread here when it starts, so ``close`` can join it.
    """

    def __init__(
        self,
        config: MemoryConfig,
        scheduler: Scheduler,
        mirror: LeaseMirror,
        started: list[threading.Thread],
    ) -> None:
        super().__init__()
        self._budget_s = config.wait_budget_s
        self._scheduler = scheduler
        self._mirror = mirror
        self._started = started
        self._states: dict[str, Any] = {}
        self._leases = LeaseBook(config.lock_ttl_s)
        self._waiters = WaitQueues()
        self._lease_alarm = Alarm(scheduler, lambda: mirror.expire(self._tell_quietly))
        self._wait_alarm = Alarm(scheduler, lambda: self._tell_quietly(WaitsDue(scheduler.now())))
        self._resets = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            Acquire: self._acquire,
            Release: self._release,
            Read: self._read,
            Write: self._write,
            LeasesDue: self._leases_due,
            WaitsDue: self._waits_due,
            Abandon: self._abandon,
            Batch: self._batch,
            Cleanup: self._cleanup,
            Clear: self._clear,
        }

    def on_start(self) -> None:
        """Record the actor thread for the facade's ``close``."""
        self._started.append(threading.current_thread())

    def on_receive(self, message: Any) -> None:
        """Handle one message; never raises, since a raising tell would kill the actor."""
        try:
            self._handlers[type(message)](message)
        except Exception as error:  # noqa: BLE001 - a raising tell would kill the actor
            self._report(message, error)

    def _batch(self, message: Batch) -> None:
        for item in message.messages:
            self.on_receive(item)

    def on_stop(self) -> None:
        """Refuse every parked lock request, so that no caller waits for a dead actor."""
        self._lease_alarm.cancel()
        self._wait_alarm.cancel()
        for waiter in self._waiters.drain():
            waiter.reply.fail(ClosedError("memory"))

    def _report(self, message: Any, error: Exception) -> None:
        reply = getattr(message, "reply", None)
        try:
            if isinstance(reply, Reply):
                reply.fail(error)
                return
        except RuntimeError:
            pass  # the reply was already given before the error: only the log is left
        logger.error("Memory actor failed to handle %r", message, exc_info=error)

    def _tell_quietly(self, message: object) -> None:
        # A timer may fire after the memory closed: then there is nothing left to do.
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(message)

    # -- locks -------------------------------------------------------------------------

    def _acquire(self, message: Acquire) -> None:
        lease = self._leases.get(message.machine_id)
        if lease is not None and lease.owner != message.owner:
            lease = self._contend(message.machine_id, lease)
        if lease is None:
            self._grant(message.machine_id, message.owner, message.ticket, message.reply)
        elif lease.owner == message.owner:
            # Locking again renews the lease: the way a long execution keeps its lock.
            message.reply.set(self._grant_of(message.machine_id, self._renew(message.machine_id)))
        elif self._budget_s <= 0:
            message.reply.set(None)
        else:
            deadline = self._scheduler.now() + self._budget_s
            self._waiters.park(
                Waiter(message.machine_id, message.owner, message.ticket, message.reply, deadline)
            )
            self._wait_alarm.watch(deadline)

    def _contend(self, machine_id: str, lease: Lease) -> Lease | None:
        """A request found ``lease`` in force: flag it, then apply releases held back.

        The holder's unlock holds its release back while nobody contends. The flag is
        raised before the held-back releases are collected (both under the facade's
        gate), so a release is either collected here or sent at once by its holder:
        no request waits for a release that is never sent.
        """
        lease.contention.contended = True
        for release in self._mirror.take_deferred():
            self._release(release)
        return self._leases.get(machine_id)

    def _renew(self, machine_id: str) -> Lease:
        return self._leases.renew(machine_id, self._scheduler.now())

    def _grant(self, machine_id: str, owner: Any, ticket: int, reply: Reply[Grant | None]) -> None:
        lease = self._leases.grant(machine_id, owner, ticket, self._scheduler.now())
        # Requests still queued behind this grant contend for the new lease too.
        lease.contention.contended = self._waiters.count(machine_id) > 0
        self._lease_alarm.watch(lease.expires_at)
        reply.set(self._grant_of(machine_id, lease))

    def _grant_of(self, machine_id: str, lease: Lease) -> Grant:
        state = self._states.get(machine_id)
        return Grant(lease.fence, state, lease.expires_at, self._resets, lease.contention)

    def _hand_off(self, machine_id: str) -> None:
        """The lock of ``machine_id`` just freed: give it to the longest waiter."""
        waiter = self._waiters.pop_next(machine_id)
        if waiter is not None:
            self._grant(machine_id, waiter.owner, waiter.ticket, waiter.reply)

    def _release(self, message: Release) -> None:
        lease = self._leases.get(message.machine_id)
        if message.fence is None:
            released = lease is None or lease.owner == message.owner
        else:
            released = lease is not None and lease.fence == message.fence
            self._store_fenced(message.machine_id, message.data, released)
        if lease is not None and released:
            self._leases.remove(message.machine_id)
            self._hand_off(message.machine_id)
        if message.reply is not None:
            message.reply.set(released)

    def _abandon(self, message: Abandon) -> None:
        self._waiters.remove(message.ticket)
        lease = self._leases.get(message.machine_id)
        if lease is not None and lease.ticket == message.ticket:
            self._leases.remove(message.machine_id)
            self._hand_off(message.machine_id)

    # -- timers ------------------------------------------------------------------------

    def _leases_due(self, message: LeasesDue) -> None:
        for machine_id in self._leases.pop_due(message.at):
            self._hand_off(machine_id)
        self._lease_alarm.rearm(self._leases.earliest_expiry())

    def _waits_due(self, message: WaitsDue) -> None:
        for waiter in self._waiters.pop_due(message.at):
            waiter.reply.set(None)
        self._wait_alarm.rearm(self._waiters.earliest_deadline())

    # -- states ------------------------------------------------------------------------

    def _read(self, message: Read) -> None:
        message.reply.set(self._states.get(message.machine_id))

    def _write(self, message: Write) -> None:
        lease = self._leases.get(message.machine_id)
        if message.fence is not None:
            in_force = lease is not None and lease.fence == message.fence
            self._store_fenced(message.machine_id, message.data, in_force)
            return
        if lease is not None and lease.owner != message.owner:
            raise FencingError(message.machine_id, message.owner, lease.owner, lease.fence)
        self._states[message.machine_id] = message.data
        if message.reply is not None:
            message.reply.set(None)

    def _store_fenced(self, machine_id: str, data: Any, in_force: bool) -> None:
        """Store a holder's write that was sent without a reply, under its lease."""
        if data is msgspec.UNSET:
            return
        if in_force:
            self._states[machine_id] = data
        else:
            # The facade sends these only while their lease is in force: this is a bug.
            logger.error("Dropped a write to %r made under a lapsed lease", machine_id)

    def _cleanup(self, message: Cleanup) -> None:
        self._resets += 1
        self._states.pop(message.machine_id, None)
        lease = self._leases.get(message.machine_id)
        # The holder cleaning up its own finished workflow keeps the lock until it
        # unlocks, so that no other event for the id runs while it is still finishing.
        if lease is not None and lease.owner != message.owner:
            self._leases.remove(message.machine_id)
            self._hand_off(message.machine_id)
        message.reply.set(None)

    def _clear(self, message: Clear) -> None:
        self._resets += 1
        self._states.clear()
        for machine_id in self._leases.clear():
            self._hand_off(machine_id)
        message.reply.set(None)
