"""ConcurrentMachineMemory: the thread-safe facade over the memory actor."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pykka

from arvo_concurrent.actors.lifecycle import Closeable, deadline_after, remaining
from arvo_concurrent.actors.scheduler import Scheduler, acquire_shared_scheduler
from arvo_concurrent.errors import ClosedError
from arvo_concurrent.memory.actor import MemoryActor
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.copying import copy_state
from arvo_concurrent.memory.errors import MachineIdError, MemoryDataError, MemoryTimeoutError
from arvo_concurrent.memory.messages import (
    Abandon,
    Acquire,
    Cleanup,
    Clear,
    Grant,
    Read,
    Release,
    Write,
)
from arvo_concurrent.memory.mirror import LeaseMirror
from arvo_concurrent.memory.owner import current_owner
from arvo_concurrent.memory.pending import PendingLock
from arvo_concurrent.memory.reply import Reply, ReplyTimeout

__all__ = ["ConcurrentMachineMemory"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a caller waits for the actor beyond any lock-wait budget. The actor answers
# in microseconds; running out of this means it is stuck, and the caller gets an error
# instead of hanging.
_ANSWER_TIMEOUT_S = 30.0


def _require_id(machine_id: object, operation: str) -> str:
    if not isinstance(machine_id, str) or not machine_id:
        raise MachineIdError(operation, machine_id)
    return machine_id


class ConcurrentMachineMemory(Closeable):
    """In-process machine memory: workflow states with leased, fenced, FIFO locks.

    Every state and lock operation is a message to one memory actor (a Pykka actor on a
    daemon thread) that owns the states and the leases, so all methods are thread-safe.

    * ``read`` returns a deep copy; ``write`` stores a deep copy.
    * A lock is a lease: an owner (the calling thread unless ``owner=`` is given), a
      fencing number and an expiry ``lock_ttl_ms`` after the grant, enforced by a timer.
      Locking an id again as its holder renews the lease (same fence, fresh TTL); locks
      are not counted, one ``unlock`` releases.
    * A ``lock`` that finds the id held waits in a FIFO queue for that id and is granted
      the moment the lock is released or expires. It waits at most the retry budget,
      ``sum(lock_initial_delay_ms * lock_backoff_exponent**i for i < lock_max_retries)``
      (0 retries: one try, no wait), then returns False.
    * Fencing: while a lease is in force, a ``write`` by anyone but its holder raises
      :class:`FencingError` and stores nothing, and an ``unlock`` by anyone but its holder
      releases nothing and returns False. This covers the holder whose lease expired and
      was taken by another. Writes to an id that nobody has locked are allowed (workflows
      that never lock still work, without the lock's protection).
    * ``cleanup`` deletes a finished workflow's state; its lock is dropped too, except
      that a holder cleaning up keeps it until its own ``unlock`` (no other event for
      the id overlaps the one finishing).

    Round trips are what cost (a thread hand-off each), so an uncontended locked
    lock/read/write/unlock cycle makes one: the lock grant carries the state, so the
    holder's ``read`` needs no message; while its lease is live the holder's ``write``
    stays in the facade (every thread's ``read`` sees it) and travels with the
    ``unlock``; and while nobody else asked for the lock, the unlock itself travels
    with the next message any thread sends the actor. Whatever must observe these
    effects in the actor (another lock request, a read once the lease is gone, the
    lease's expiry) finds them applied first, so a write made under a live lease is
    never lost and never fenced.

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
        self._lock_timeout_s = self._config.wait_budget_s + _ANSWER_TIMEOUT_S
        self._owns_scheduler = scheduler is None
        self._scheduler = acquire_shared_scheduler() if scheduler is None else scheduler
        self._mirror = LeaseMirror(self._scheduler.now)
        self._tickets = itertools.count(1)
        self._close_lock = threading.Lock()
        self._closed = False
        self._actor_threads: list[threading.Thread] = []
        try:
            self._ref = MemoryActor.start(
                self._config, self._scheduler, self._mirror, self._actor_threads
            )
        except BaseException:
            if self._owns_scheduler:
                self._scheduler.close()
            raise

    @property
    def config(self) -> MemoryConfig:
        """The validated settings."""
        return self._config

    def read(self, machine_id: str) -> dict[str, Any] | None:
        """Return a deep copy of the state of ``machine_id``, or None if there is none.

        Blocks for one round trip to the actor, unless a live lease on the id was granted
        through this memory (then none). Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "read")
        held = self._mirror.live(machine_id)
        if held is not None:
            state: dict[str, Any] | None = held.data
            return copy_state(state)
        self._mirror.settle(machine_id, current_owner(), self._tell)
        stored: dict[str, Any] | None = self._ask(
            machine_id, "read", lambda reply: Read(machine_id, reply)
        )
        return copy_state(stored)

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
        used: consistency comes from the lock and its fencing. When ``owner`` (default:
        the calling thread) holds a live lease on the id, the write does not block (it
        cannot be refused, and reaches the actor with the unlock or before anything
        else about the id); otherwise it blocks for one round trip. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            MemoryDataError: ``data`` is not a dict.
            FencingError: another owner holds the id's lock; nothing was stored.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "write")
        if not isinstance(data, dict):
            raise MemoryDataError(machine_id, data)
        private = copy_state(data)
        writer = current_owner() if owner is None else owner
        if self._mirror.write(machine_id, writer, private):
            return
        self._mirror.settle(machine_id, writer, self._tell)
        self._ask(
            machine_id, "write", lambda reply: Write(machine_id, private, writer, None, reply)
        )

    def lock(self, machine_id: str, owner: object = None) -> bool:
        """Take the lock of ``machine_id`` for ``owner`` (default: the calling thread).

        Blocks until the lock is granted (the moment it frees) or the retry budget is
        spent. Locking an id ``owner`` already holds renews its lease and returns True.
        Thread-safe.

        Returns:
            True when ``owner`` holds the lock, False when the budget ran out.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed (also while waiting).
            MemoryTimeoutError: the actor did not answer at all.
        """
        return self.request_lock(machine_id, owner).wait()

    def request_lock(self, machine_id: str, owner: object = None) -> PendingLock:
        """Queue a lock request for ``owner`` (default: the calling thread) without waiting.

        The request joins the id's FIFO queue before this returns, so requests made in
        turn from one thread are served in that order; ``PendingLock.wait()`` then blocks
        for the answer, exactly as :meth:`lock` does. Does not block. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            ClosedError: the memory is closed.
        """
        _require_id(machine_id, "lock")
        holder = current_owner() if owner is None else owner
        ticket = next(self._tickets)
        reply: Reply[Grant | None] = Reply()
        self._mirror.settle(machine_id, holder, self._tell)
        self._mirror.send(Acquire(machine_id, holder, ticket, reply), self._tell)
        return PendingLock(
            machine_id,
            holder,
            reply,
            lambda answer: self._await_grant(answer, machine_id, ticket),
            lambda grant: self._mirror.remember(machine_id, holder, grant),
        )

    def unlock(self, machine_id: str, owner: object = None) -> bool:
        """Release the lock of ``machine_id`` held by ``owner`` (default: the calling thread).

        Does not block when ``owner`` holds a live lease granted through this memory:
        the release goes to the actor at once if a request is waiting for the lock, else
        with the next message any thread sends it. Otherwise blocks for one round trip.
        Thread-safe.

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
        if self._mirror.release(machine_id, holder, self._tell):
            return True
        self._mirror.settle(machine_id, holder, self._tell)
        return self._ask(
            machine_id, "unlock", lambda reply: Release(machine_id, holder, None, reply)
        )

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
        self._mirror.reset(machine_id, self._tell, Cleanup(machine_id, caller, reply))
        self._wait(reply, machine_id, "cleanup")

    def clear(self) -> None:
        """Delete every state and lease, whatever ``enable_cleanup`` says.

        Parked lock requests are granted in turn. Blocks for one round trip. Thread-safe.

        Raises:
            ClosedError: the memory is closed.
        """
        reply: Reply[None] = Reply()
        self._mirror.reset(None, self._tell, Clear(reply))
        self._wait(reply, None, "clear")

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the memory actor and release the scheduler. Idempotent and thread-safe.

        Operations already queued are handled first; parked ``lock`` calls raise
        :class:`ClosedError`, and so does every later operation. Blocks until the actor's
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
        # Only the mirror calls this directly: everything else goes through
        # ``self._mirror.send`` so that deferred releases go first.
        if self._closed:
            raise ClosedError("memory")
        try:
            self._ref.tell(message)
        except pykka.ActorDeadError as error:
            raise ClosedError("memory") from error

    def _ask(self, machine_id: str, operation: str, message: Callable[[Reply[T]], object]) -> T:
        reply: Reply[T] = Reply()
        self._mirror.send(message(reply), self._tell)
        return self._wait(reply, machine_id, operation)

    def _wait(self, reply: Reply[T], machine_id: str | None, operation: str) -> T:
        try:
            return reply.wait(_ANSWER_TIMEOUT_S)
        except ReplyTimeout:
            if self._closed:
                raise ClosedError("memory") from None
            raise MemoryTimeoutError(machine_id, operation, _ANSWER_TIMEOUT_S) from None

    def _await_grant(
        self, reply: Reply[Grant | None], machine_id: str, ticket: int
    ) -> Grant | None:
        timeout = self._lock_timeout_s
        try:
            return reply.wait(timeout)
        except ReplyTimeout:
            if self._closed:
                raise ClosedError("memory") from None
        # No answer at all: withdraw the request, whether it is queued or was granted.
        with contextlib.suppress(pykka.ActorDeadError):
            self._ref.tell(Abandon(machine_id, ticket))
        raise MemoryTimeoutError(machine_id, "lock", timeout)
