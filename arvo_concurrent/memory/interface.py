"""IMachineMemory: what a stateful Arvo handler needs from a state store.

Resumables and orchestrators run each event as **lock -> read -> run -> write ->
[cleanup] -> unlock**, all keyed by the event's ``subject`` (the machine id). Any
backend (in-process, Redis, PostgreSQL...) that honours the contract below can be
handed to them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["IMachineMemory"]


@runtime_checkable
class IMachineMemory(Protocol):
    """Per-workflow-instance state with an exclusive, expiring lock per instance.

    Contract for implementers:

    * **Ids.** ``id`` is a non-empty ``str`` (an ArvoOrchestrationSubject, often a few
      hundred characters). An empty id raises ``ValueError("Machine ID is required for
      <read|write|lock|unlock> operation")``.
    * **Records.** A state is a JSON-like ``dict[str, Any]`` (str keys; dict, list, str,
      int, float, bool, None values). Backends that serialise (Redis: a JSON string under
      the key; PostgreSQL: a ``jsonb`` column keyed by id) must round-trip it exactly; an
      in-process backend must copy on the way in and out so that no caller shares a
      mutable object with the store.
    * **Errors.** ``read``, ``write`` and ``lock`` raise on an operational failure (lost
      connection, timeout): the caller turns it into a TransactionViolation and the
      event is retried. They never return a made-up answer instead.
    * **Thread-safety.** Every method may be called from many threads (and processes,
      for shared backends) at once.
    * **Optional cleanup.** A backend may also define ``cleanup(id) -> None``. It is not
      part of this protocol (so ``isinstance`` checks pass without it); callers look it
      up with ``cleanup = getattr(memory, "cleanup", None)`` and call it when it is
      callable, after the final state of a finished workflow was written and while the
      lock is still held. It deletes (or archives) the id's state and lock; a backend
      may make it a no-op (PostgreSQL backends usually keep finished workflows).
    * **Optional lock_and_read.** A backend may also define ``lock_and_read(id) ->
      (acquired, state)``: ``lock`` then, once granted, ``read``, in fewer round trips
      (PostgreSQL: one). Not part of this protocol either; the orchestration wrapper
      looks it up once and uses it instead of ``lock`` + ``read`` when it is callable.
      It must not hold the lock when it raises.
    """

    def read(self, id: str) -> dict[str, Any] | None:
        """Return the state stored for ``id``, or None when there is none.

        Called right after ``lock`` (or without it, for handlers that do not lock). Must
        see every ``write`` that returned before it was called. Redis: ``GET`` + JSON
        decode; PostgreSQL: ``SELECT data FROM machine_memory WHERE id = $1``.
        """
        ...

    def write(
        self,
        id: str,
        data: dict[str, Any],
        prev_data: dict[str, Any] | None = None,
        metadata: Any = None,
    ) -> None:
        """Store ``data`` as the state of ``id``, replacing any previous state.

        Must be durable (for this backend's idea of durable) when it returns, and fail
        fast: raise rather than retry for long. ``prev_data`` is the state the caller
        read before (None for a new workflow or a failure record); a backend may use it
        for optimistic concurrency (``UPDATE ... WHERE data = $prev``) but need not.
        ``metadata`` describes the transition (``subject``, ``source``, ``initiator``,
        ``parent_subject``) for backends that index or audit it; it may be ignored.
        A backend with lock ownership should refuse (raise) a write to an id whose lock
        is held by someone else, since that is a lost update. One that fences (refuses
        a write under a lease older than the latest one granted on the id) must keep
        doing so after ``cleanup`` deleted the state, or a late write resurrects a
        finished workflow: keep the id's latest fence, not the state, for a while
        after the last lease on it could be in force.
        """
        ...

    def lock(self, id: str) -> bool:
        """Take the exclusive lock of ``id`` for the caller, waiting while the queue moves.

        The lock is a lease with a TTL ``T``, so that a holder that died cannot block
        the id forever: Redis ``SET lock:<id> <token> NX PX <ttl>``; PostgreSQL a
        ``locked_until`` column updated with ``WHERE locked_until < now()`` (or an
        advisory lock). The caller holds it until ``unlock`` or the TTL.

        While someone else holds it, the call waits; with ``B`` the backend's wait
        budget (ConcurrentMachineMemory: the sum of its backoff delays), it:

        * gives up (returns False) once the lock of ``id`` has not changed hands for
          one whole ``B``. The budget counts from the call and restarts each time the
          lock of ``id`` passes to another holder (a new lease is granted on it),
          since the queue ahead is then making progress: behind any number of steps
          that each hold the lock for less than ``B``, a waiter is not refused for
          the length of the queue alone;
        * but never waits longer than ``T`` in all (or ``B``, when ``B`` is longer),
          counted from the call, however often the lock changes hands;
        * with ``B == 0``, tries once and does not wait.

        Waiters should be served in arrival order (FIFO per id) and granted the lock
        as soon as it frees. A backend that polls sees a hand-off as a change of the
        lock's holder (or fencing token) between two polls, and must poll often enough
        within ``B`` to see one.

        Returns:
            True when the caller now holds the lock; False when it gave up (the
            caller raises a TransactionViolation and the event is retried later).
        """
        ...

    def unlock(self, id: str) -> bool:
        """Release the caller's lock of ``id``.

        Must be tolerant: unlocking an id that is not locked returns True, and it must
        not release a lock someone else holds (Redis: delete only if the stored token
        is the caller's, atomically in a Lua script). The caller logs a False or an
        error and carries on; the TTL frees the lock eventually.

        Returns:
            True when the lock is released (or was not held); False otherwise.
        """
        ...
