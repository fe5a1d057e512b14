"""ConcurrentMachineMemory: the thread-safe facade over the memory actor."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import threading
import time
from typing import Any, TypeVar

import pykka

from arvo_concurrent.actors.inline import InlineMailbox
from arvo_concurrent.actors.lifecycle import Closeable, deadline_after, remaining
from arvo_concurrent.actors.scheduler import Scheduler, acquire_shared_scheduler
from arvo_concurrent.errors import ClosedError, WaitTimeoutError
from arvo_concurrent.memory.actor import MemoryActor
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.copying import copy_state
from arvo_concurrent.memory.errors import MachineIdError, MemoryDataError, MemoryTimeoutError
from arvo_concurrent.memory.held import NO_SNAPSHOT, HeldLeases
from arvo_concurrent.memory.messages import (
    Abandon,
    Acquire,
    Cleanup,
    Clear,
    Read,
    Release,
    Write,
)
from arvo_concurrent.memory.owner import current_owner
from arvo_concurrent.memory.pending import PendingLock
from arvo_concurrent.memory.reply import Reply

__all__ = ["ConcurrentMachineMemory"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a caller waits for the actor beyond the longest lock wait. The actor answers
# at once otherwise; running out of this means it is stuck, and the caller gets an error
# instead of hanging.
_ANSWER_TIMEOUT_S = 30.0

# A caller waiting for an answer looks this often whether the memory was closed under
# it: a message queued just as the actor stopped is never handled, nor answered.
_CLOSED_POLL_S = 0.05


def _require_id(machine_id: object, operation: str) -> str:
    if not isinstance(machine_id, str) or not machine_id:
        raise MachineIdError(operation, machine_id)
    return machine_id


class ConcurrentMachineMemory(Closeable):
    """In-process machine memory: workflow states with leased, fenced, FIFO locks.

    Every state and lock operation is a message to one memory actor (a Pykka actor on a
    daemon thread) that owns the states and the leases, so all methods are thread-safe.
    While the actor is idle, the caller handles its message itself, on its own thread,
    still one message at a time and in order (:mod:`~arvo_concurrent.actors.inline`):
    an uncontended call makes no thread hand-off.

    * ``read`` returns a deep copy; ``write`` stores a deep copy.
    * A lock is a lease: an owner (the calling thread unless ``owner=`` is given; any
      hashable value), a fencing number and an expiry ``lock_ttl_ms`` after the grant,
      enforced by a timer. Locking an id again as its holder renews the lease (same
      fence, fresh TTL); locks are not counted, one ``unlock`` releases.
    * A ``lock`` that finds the id held waits in a FIFO queue for that id and is granted
      the moment the lock is released or expires. Its wait budget is
      ``sum(lock_initial_delay_ms * lock_backoff_exponent**i for i < lock_max_retries)``
      (0 retries: one try, no wait): it returns False once the lock has not changed
      hands for one whole budget (counted from the call, restarted at every hand-off
      of the id to the next waiter), and after ``lock_ttl_ms`` in all at the latest
      (or the budget, if longer); see :meth:`IMachineMemory.lock`.
    * Fencing: a ``write`` by an owner is refused with :class:`FencingError`, storing
      nothing, when that owner's lease on the id (from its last ``lock`` not followed by
      its ``unlock``) is no longer the latest one granted on the id, even if the later
      holder has unlocked or cleaned the id up since; and, by an owner without a lease,
      while someone else holds the lock. A lease that ended without its holder's unlock
      is remembered for this for a bounded time: one TTL after it lapsed, and as long
      as any lease granted on the id since could be in force; after that, its holder
      writes as an owner without a lease. An ``unlock`` by anyone but the holder
      releases nothing and returns False. Writes to an id that nobody has locked are
      allowed (workflows that never lock still work, without the lock's protection).
    * ``cleanup`` deletes a finished workflow's state; its lock is dropped too, except
      that a holder cleaning up keeps it until its own ``unlock`` (no other event for
      the id overlaps the one finishing).

    Round trips to a busy actor are what cost (a thread hand-off each), so a locked
    lock/read/write/unlock cycle waits for at most one: the lock, whose grant carries
    the state, so that the holder's first read is answered here. The holder's write and
    unlock are sent without waiting for an answer while this facade can vouch that the
    lease is in force (granted through it, not expired, not dropped by a cleanup or
    clear), because then the actor cannot refuse them; otherwise they wait, so that a
    refused write raises in its caller. Every other read asks the actor; it is queued
    behind every write that returned, so it sees it. :mod:`~arvo_concurrent.memory.held`
    says why this is correct.

    Args:
        lock_max_retries: lock retries after the first attempt (int >= 0).
        lock_initial_delay_ms: the first backoff delay, in ms (>= 0).
        lock_backoff_exponent: growth factor of successive delays (>= 1).
        lock_ttl_ms: lease duration, in ms (> 0).
        enable_cleanup: whether ``cleanup`` deletes anything.
        scheduler: the timer service and clock; by default the process-wide scheduler,
            released at ``close``. An injected scheduler is not closed by ``close``.

    Raises:
        MemoryConfigError: naming the parameter whose value is wrong.
    """

    def __init__(
        self,
        lock_max_retries: int = 3,
        lock_initial_delay_ms: float = 100,
        lock_backoff_exponent: float = 1.5,
        lock_ttl_ms: float = 120_000,
        enable_cleanup: bool = True,
        *,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._config = MemoryConfig.validated(
            lock_max_retries,
            lock_initial_delay_ms,
            lock_backoff_exponent,
            lock_ttl_ms,
            enable_cleanup,
        )
        self._lock_timeout_s = self._config.wait_limit_s + _ANSWER_TIMEOUT_S
        self._owns_scheduler = scheduler is None
        self._scheduler = acquire_shared_scheduler() if scheduler is None else scheduler
        self._held = HeldLeases(self._scheduler.now)
        self._tickets = itertools.count(1)
        self._close_lock = threading.Lock()
        self._closed = False
        self._actor_threads: list[threading.Thread] = []
        self._mailbox = InlineMailbox()
        try:
            self._ref = MemoryActor.start(
                self._config, self._scheduler, self._actor_threads, self._held, self._mailbox
            )
        except BaseException:
            if self._owns_scheduler:
                self._scheduler.close()
            raise

    @property
    def config(self) -> MemoryConfig:
        """The validated settings."""
        return self._config

    def read(self, machine_id: str, *, owner: object = None) -> dict[str, Any] | None:
        """Return a deep copy of the state of ``machine_id``, or None if there is none.

        When ``owner`` (default: the calling thread) holds the lock and has not written
        since the grant, the state the grant carried is returned without a message;
        otherwise blocks for one round trip to the actor. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "read")
        reader = current_owner() if owner is None else owner
        snapshot = self._held.snapshot(machine_id, reader)
        if snapshot is not NO_SNAPSHOT:
            granted: dict[str, Any] | None = snapshot
            return copy_state(granted)
        reply: Reply[dict[str, Any] | None] = Reply()
        self._tell(Read(machine_id, reply))
        return copy_state(self._wait(reply, machine_id, "read"))

    def write(
        self,
        machine_id: str,
        data: dict[str, Any],
        prev_data: dict[str, Any] | None = None,
        metadata: object = None,
        *,
        owner: object = None,
    ) -> None:
        """Store a deep copy of ``data`` as the state of ``machine_id``.

        ``prev_data`` and ``metadata`` are accepted for interface compatibility and not
        used: consistency comes from the lock and its fencing. ``owner`` (default: the
        calling thread) is the writer whose lease, if any, the write is made under.
        Does not block when ``owner`` holds a lease this memory can vouch for (the write
        cannot be refused); otherwise blocks for one round trip to the actor. Either
        way, every read that starts after it returns sees it. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            MemoryDataError: ``data`` is not a dict.
            FencingError: ``owner``'s lease on the id is no longer the latest one, or
                ``owner`` has none and someone else holds the lock; nothing was stored.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "write")
        if not isinstance(data, dict):
            raise MemoryDataError(machine_id, data)
        private = copy_state(data)
        writer = current_owner() if owner is None else owner
        with self._held.gate:
            plan = self._held.plan_write(machine_id, writer)
            if plan.vouched:
                self._tell(Write(machine_id, private, writer, plan.fence, None))
                return
            reply: Reply[None] = Reply()
            self._tell(Write(machine_id, private, writer, plan.fence, reply))
        self._wait(reply, machine_id, "write")

    def lock(self, machine_id: str, owner: object = None) -> bool:
        """Take the lock of ``machine_id`` for ``owner`` (default: the calling thread).

        Blocks until the lock is granted (the moment it frees) or the request gives up:
        once the lock has not changed hands for one whole wait budget (restarted at
        every hand-off of the id), and after ``lock_ttl_ms`` in all at the latest (or
        the budget, if longer); see :meth:`IMachineMemory.lock`. Locking an id
        ``owner`` already holds renews its lease and returns True. Thread-safe.

        Returns:
            True when ``owner`` holds the lock, False when it gave up.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed (also while waiting).
            MemoryTimeoutError: the actor did not answer at all.
        """
        holder = current_owner() if owner is None else owner
        answer_by = self._answer_by()
        return self._collect(self._request(_require_id(machine_id, "lock"), holder), answer_by)

    def request_lock(self, machine_id: str, owner: object = None) -> PendingLock:
        """Queue a lock request for ``owner`` (default: the calling thread) without waiting.

        The request joins the id's FIFO queue before this returns, so requests made in
        turn from one thread are served in that order, and its wait starts now;
        ``PendingLock.wait()`` then blocks for the answer, exactly as :meth:`lock` does.
        ``owner`` holds the lock once ``wait()`` returned True. Does not block.
        Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed.
        """
        holder = current_owner() if owner is None else owner
        answer_by = self._answer_by()
        request = self._request(_require_id(machine_id, "lock"), holder)
        collect = functools.partial(self._collect, request, answer_by)
        return PendingLock(machine_id, holder, request.reply, collect)

    def unlock(self, machine_id: str, owner: object = None) -> bool:
        """Release the lock of ``machine_id`` held by ``owner`` (default: the calling thread).

        Does not block when ``owner`` holds a lease this memory can vouch for (granted
        through it, not expired, not dropped by a cleanup or clear): the release is
        sent without waiting. Otherwise blocks for one round trip. Thread-safe.

        Returns:
            True when the lock was released or the id was not locked; False when someone
            else holds it (it stays locked), e.g. after ``owner``'s lease expired and
            another owner took the lock.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "unlock")
        holder = current_owner() if owner is None else owner
        with self._held.gate:
            plan = self._held.plan_unlock(machine_id, holder)
            if plan.vouched:
                self._tell(Release(machine_id, holder, plan.fence, None))
                return True
            reply: Reply[bool] = Reply()
            self._tell(Release(machine_id, holder, plan.fence, reply))
        return self._wait(reply, machine_id, "unlock")

    def cleanup(self, machine_id: str, *, owner: object = None) -> None:
        """Delete the state of ``machine_id`` (a finished workflow), and its lock.

        Does nothing when ``enable_cleanup`` is False. When ``owner`` (default: the
        calling thread) holds the lock, it keeps it until its ``unlock``, so that no
        other event for the id runs while the finishing one completes; a lock held by
        anyone else is dropped at once and the next waiter, if any, is granted it.
        Blocks for one round trip. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "cleanup")
        if not self._config.enable_cleanup:
            return
        caller = current_owner() if owner is None else owner
        reply: Reply[None] = Reply()
        with self._held.gate:
            self._held.note_cleanup(machine_id, caller)
            self._tell(Cleanup(machine_id, caller, reply))
        self._wait(reply, machine_id, "cleanup")

    def clear(self) -> None:
        """Delete every state and lease, whatever ``enable_cleanup`` says.

        Parked lock requests are granted in turn. Blocks for one round trip. Thread-safe.

        Raises:
            ClosedError: the memory is closed.
        """
        reply: Reply[None] = Reply()
        with self._held.gate:
            self._held.note_clear()
            self._tell(Clear(reply))
        self._wait(reply, None, "clear")

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the memory actor and release the scheduler. Idempotent and thread-safe.

        Operations already queued are handled first; parked ``lock`` calls raise
        :class:`ClosedError`, and so does every later operation, and any operation
        whose message reached the actor too late to be handled. Blocks until the actor's
        thread has ended, or ``timeout`` seconds (None: no limit).
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        deadline = deadline_after(timeout)
        try:
            self._ref.stop(block=True, timeout=timeout)
        except pykka.Timeout:
            logger.warning("The memory actor did not stop within %s s", timeout)
        for thread in self._actor_threads:
            thread.join(remaining(deadline))
        if self._owns_scheduler:
            self._scheduler.close(remaining(deadline))

    # -- messaging ---------------------------------------------------------------------

    def _tell(self, message: object) -> None:
        if self._closed:
            raise ClosedError("memory")
        try:
            self._mailbox.send(message)
        except pykka.ActorDeadError as error:
            raise ClosedError("memory") from error

    def _wait(self, reply: Reply[T], machine_id: str | None, operation: str) -> T:
        answer_by = time.monotonic() + _ANSWER_TIMEOUT_S
        return self._await(reply, answer_by, _ANSWER_TIMEOUT_S, machine_id, operation)

    def _await(
        self,
        reply: Reply[T],
        answer_by: float,
        timeout_s: float,
        machine_id: str | None,
        operation: str,
    ) -> T:
        """Block until ``reply`` is answered, at the latest ``answer_by`` (monotonic clock).

        Raises:
            ClosedError: the memory was closed and will never answer.
            MemoryTimeoutError: no answer by ``answer_by`` (``timeout_s`` after the call).
        """
        while True:
            left = answer_by - time.monotonic()
            try:
                return reply.wait(min(max(left, 0.0), _CLOSED_POLL_S))
            except WaitTimeoutError:
                pass
            if self._closed and (left <= 0 or self._actor_ended()):
                # The actor answers nothing once its thread has ended: take an answer it
                # gave just before, else this one was queued too late.
                try:
                    return reply.wait(0)
                except WaitTimeoutError:
                    raise ClosedError("memory") from None
            if left <= 0:
                raise MemoryTimeoutError(machine_id, operation, timeout_s)

    def _actor_ended(self) -> bool:
        return any(not thread.is_alive() for thread in self._actor_threads)

    def _answer_by(self) -> float:
        """The caller's own bound, in real time, on waiting for an actor that is stuck."""
        return time.monotonic() + self._lock_timeout_s

    def _request(self, machine_id: str, holder: object) -> Acquire:
        """Note and send a lock request (never blocks); return it."""
        ticket = next(self._tickets)
        request = Acquire(machine_id, holder, ticket, self._scheduler.now(), Reply())
        with self._held.gate:
            self._held.note_request(machine_id, holder, ticket)
        self._tell(request)
        return request

    def _collect(self, request: Acquire, answer_by: float) -> bool:
        """Block for the answer to ``request`` (at most until ``answer_by``); record it.

        Returns:
            True when the lock was granted.
        """
        machine_id, holder, ticket = request.machine_id, request.owner, request.ticket
        grant = None
        try:
            grant = self._await(request.reply, answer_by, self._lock_timeout_s, machine_id, "lock")
        except MemoryTimeoutError:
            # No answer at all: withdraw the request, whether it is queued or was granted.
            with self._held.gate, contextlib.suppress(pykka.ActorDeadError):
                self._held.note_abandon(machine_id, holder, ticket)
                self._mailbox.send(Abandon(machine_id, ticket))
            raise
        finally:
            with self._held.gate:
                self._held.record_answer(machine_id, holder, ticket, grant)
        return grant is not None
