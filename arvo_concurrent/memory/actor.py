"""The memory actor: owns every state, lease and waiting lock request, one message at a time."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import pykka

from arvo_concurrent.actors.base import LibraryActor
from arvo_concurrent.actors.inline import InlineMailbox
from arvo_concurrent.actors.scheduler import Scheduler
from arvo_concurrent.errors import ClosedError
from arvo_concurrent.memory.alarm import Alarm
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.errors import FencingError
from arvo_concurrent.memory.fences import LapsedFences
from arvo_concurrent.memory.held import HeldLeases
from arvo_concurrent.memory.lease import Lease, LeaseBook
from arvo_concurrent.memory.messages import (
    Abandon,
    Acquire,
    Cleanup,
    Clear,
    Grant,
    LeasesDue,
    Read,
    Release,
    WaitsDue,
    Write,
)
from arvo_concurrent.memory.reply import Reply
from arvo_concurrent.memory.waiters import Waiter, WaitQueues

__all__ = ["MemoryActor"]

logger = logging.getLogger(__name__)


class MemoryActor(LibraryActor):
    """Serialises every memory operation; grants locks FIFO per id; expires leases on a timer.

    Fencing: the actor refuses a write made under any lease older than the latest one
    granted on its id, whether or not a lease is in force now, so a holder whose lease
    was taken from it cannot overwrite (or, after a cleanup, resurrect) what a later
    holder wrote. While a lease is in force it carries the latest fence. An id on
    which a lease ended without its holder's unlock (it expired, or someone else's
    cleanup dropped it) has a holder that may still write: its latest fence is kept
    apart, whatever happens to its state, for one TTL after that and as long as any
    lease granted on it since could be in force (see
    :class:`~arvo_concurrent.memory.fences.LapsedFences`). When it is forgotten, so
    are the facade's records of those holders: their writes then count as writes by
    owners without a lease. Ids whose leases all ended by unlock keep nothing.

    Args:
        config: the memory's settings.
        scheduler: the timer service; its clock is the lease and wait clock.
        started: the actor appends its thread here when it starts, so ``close`` can join it.
        held: the facade's lease records, through which the lease timer queues expiries
            (:meth:`~arvo_concurrent.memory.held.HeldLeases.send_expiry`) and the
            actor drops the records of forgotten ids.
        mailbox: the way in for the facade's messages and the actor's timers; the
            facade's callers handle their message in place while the actor is idle
            (:mod:`~arvo_concurrent.actors.inline`). Timers always queue theirs: a
            lease expiry takes the records' gate, which a sender may hold.
    """

    def __init__(
        self,
        config: MemoryConfig,
        scheduler: Scheduler,
        started: list[threading.Thread],
        held: HeldLeases,
        mailbox: InlineMailbox,
    ) -> None:
        super().__init__()
        self._scheduler = scheduler
        self._started = started
        self._states: dict[str, Any] = {}
        self._leases = LeaseBook(config.lock_ttl_s)
        self._lapsed = LapsedFences(config.lock_ttl_s)
        self._waiters = WaitQueues(config.wait_budget_s, config.wait_limit_s, scheduler.now)
        self._held = held
        self._lease_alarm = Alarm(scheduler, self._expire_due_leases)
        self._wait_alarm = Alarm(scheduler, lambda: self._tell_quietly(WaitsDue(scheduler.now())))
        self._handlers: dict[type, Callable[[Any], None]] = {
            Acquire: self._acquire,
            Release: self._release,
            Read: self._read,
            Write: self._write,
            LeasesDue: self._leases_due,
            WaitsDue: self._waits_due,
            Abandon: self._abandon,
            Cleanup: self._cleanup,
            Clear: self._clear,
        }
        self._mailbox = mailbox
        mailbox.bind(self.actor_ref, self._dispatch)

    def on_start(self) -> None:
        """Record the actor thread for the facade's ``close``."""
        self._started.append(threading.current_thread())

    def on_receive(self, message: Any) -> None:
        """Handle one queued message, once no sender is handling one in place."""
        self._mailbox.receive(message)

    def _dispatch(self, message: Any) -> None:
        # Never raises: a raising tell would kill the actor, and a sender handling its
        # message in place gets its error through the message's reply, as from the actor.
        try:
            self._handlers[type(message)](message)
        except Exception as error:  # noqa: BLE001 - see above
            self._report(message, error)

    def on_stop(self) -> None:
        """Refuse every parked lock request, so that no caller waits for a dead actor."""
        self._mailbox.stop()
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

    def _expire_due_leases(self) -> None:
        # On the scheduler thread: queued behind every write and unlock found vouched for.
        self._held.send_expiry(self._tell_quietly)

    def _tell_quietly(self, message: object) -> None:
        # A timer may fire after the memory closed: then there is nothing left to do.
        with contextlib.suppress(pykka.ActorDeadError):
            self._mailbox.post(message)

    # -- locks -------------------------------------------------------------------------

    def _acquire(self, message: Acquire) -> None:
        lease = self._leases.get(message.machine_id)
        if lease is None:
            self._grant(message.machine_id, message.owner, message.ticket, message.reply)
        elif lease.owner == message.owner:
            # Locking again renews the lease: the way a long execution keeps its lock.
            renewed = self._leases.renew(message.machine_id, self._scheduler.now())
            self._lapsed.granted(message.machine_id, renewed.fence, renewed.expires_at)
            message.reply.set(
                Grant(renewed.fence, self._states.get(message.machine_id), renewed.expires_at)
            )
        elif self._waiters.deadline(message.machine_id, message.asked_at) <= self._scheduler.now():
            message.reply.set(None)
        else:
            deadline = self._waiters.park(
                Waiter(
                    message.machine_id,
                    message.owner,
                    message.ticket,
                    message.reply,
                    message.asked_at,
                )
            )
            self._wait_alarm.watch(deadline)

    def _grant(self, machine_id: str, owner: Any, ticket: int, reply: Reply[Grant | None]) -> None:
        lease = self._leases.grant(machine_id, owner, ticket, self._scheduler.now())
        self._lapsed.granted(machine_id, lease.fence, lease.expires_at)
        self._lease_alarm.watch(lease.expires_at)
        reply.set(Grant(lease.fence, self._states.get(machine_id), lease.expires_at))

    def _ended(self, machine_id: str) -> None:
        """The lease on ``machine_id`` is gone: hand the lock on."""
        waiter = self._waiters.pop_next(machine_id)
        if waiter is not None:
            self._grant(machine_id, waiter.owner, waiter.ticket, waiter.reply)

    def _release(self, message: Release) -> None:
        lease = self._leases.get(message.machine_id)
        if lease is None:
            mine = False
        elif message.fence is not None:
            mine = lease.fence == message.fence
        else:
            mine = lease.owner == message.owner
        if mine:
            self._leases.remove(message.machine_id)
            self._ended(message.machine_id)
        if message.reply is not None:
            message.reply.set(lease is None or mine)

    def _abandon(self, message: Abandon) -> None:
        self._waiters.remove(message.ticket)
        lease = self._leases.get(message.machine_id)
        if lease is not None and lease.ticket == message.ticket:
            self._leases.remove(message.machine_id)
            self._ended(message.machine_id)

    # -- timers ------------------------------------------------------------------------

    def _lapse(self, machine_id: str, lease: Lease, at: float) -> None:
        """``lease`` ended at ``at`` without its holder's unlock: remember its fence."""
        self._lease_alarm.watch(self._lapsed.lapsed(machine_id, lease.fence, at))

    def _leases_due(self, message: LeasesDue) -> None:
        for machine_id, lease in self._leases.pop_due(message.at):
            self._lapse(machine_id, lease, lease.expires_at)
            self._ended(machine_id)
        forgotten = self._lapsed.pop_due(message.at)
        if forgotten:
            self._held.forget(forgotten)
        self._lease_alarm.rearm(message.at, self._next_lease_event())

    def _next_lease_event(self) -> float | None:
        times = [self._leases.earliest_expiry(), self._lapsed.earliest()]
        due = [time for time in times if time is not None]
        return min(due) if due else None

    def _waits_due(self, message: WaitsDue) -> None:
        for waiter in self._waiters.pop_due(message.at):
            waiter.reply.set(None)
        self._wait_alarm.rearm(message.at, self._waiters.earliest_deadline())

    # -- states ------------------------------------------------------------------------

    def _read(self, message: Read) -> None:
        message.reply.set(self._states.get(message.machine_id))

    def _write(self, message: Write) -> None:
        machine_id = message.machine_id
        lease = self._leases.get(machine_id)
        holder = None if lease is None else lease.owner
        if message.fence is None:
            # No lease of the writer's own: allowed while nobody else holds the lock
            # (workflows that never lock), or when the writer holds it but has not
            # collected the grant yet.
            if lease is not None and lease.owner != message.owner:
                raise FencingError(machine_id, message.owner, holder, lease.fence)
        else:
            latest = self._lapsed.fence(machine_id) if lease is None else lease.fence
            if latest is not None and latest != message.fence:
                raise FencingError(machine_id, message.owner, holder, latest)
        self._states[machine_id] = message.data
        if message.reply is not None:
            message.reply.set(None)

    def _cleanup(self, message: Cleanup) -> None:
        machine_id = message.machine_id
        self._states.pop(machine_id, None)
        lease = self._leases.get(machine_id)
        if lease is not None and lease.owner != message.owner:
            self._leases.remove(machine_id)
            self._lapse(machine_id, lease, self._scheduler.now())
            self._ended(machine_id)
        # Otherwise the holder is cleaning up its own finished workflow: it keeps the
        # lock until it unlocks, so that no other event for the id runs meanwhile.
        message.reply.set(None)

    def _clear(self, message: Clear) -> None:
        self._states.clear()
        self._lapsed.clear()
        for machine_id in self._leases.clear():
            self._ended(machine_id)
        message.reply.set(None)
