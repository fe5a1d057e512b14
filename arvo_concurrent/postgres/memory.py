"""PostgresMachineMemory: workflow states and fenced lock leases shared by many processes."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from arvo_concurrent.actors.lifecycle import Closeable, deadline_after, remaining
from arvo_concurrent.errors import ClosedError
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.errors import (
    FencingError,
    MachineIdError,
    MemoryConfigError,
    MemoryDataError,
)
from arvo_concurrent.postgres.errors import MemoryBackendError, StaleStateError
from arvo_concurrent.postgres.jsonstate import decode_state, encode_state
from arvo_concurrent.postgres.outbox import PendingWrite, outbox_for
from arvo_concurrent.postgres.owners import owner_text
from arvo_concurrent.postgres.schema import check_schema, migrate
from arvo_concurrent.postgres.sessions import SESSION_KWARGS, session_setup
from arvo_concurrent.postgres.statements import Statements
from arvo_concurrent.postgres.waiting import Line, Lines, LockWait, Row
from arvo_concurrent.postgres.wakeups import WAKE_ALL, Wakeups, channel_for, key_for

__all__ = ["PostgresMachineMemory"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A refused request polls again this long after the lease that refused it expires:
# the database clock decides expiry, and an early try would only be refused again.
_EXPIRY_SLACK_S = 0.001
# A queued request's row outlives its next planned try by this much: a request that
# died leaves the queue soon, one delayed by a busy machine stays in it.
_QUEUE_SLACK_MS = 1_000.0
# An unlock that hands the lease to a waiter gives it this long to claim it (its next
# try renews it to a full TTL): a waiter that died holds the id up only that long.
_CLAIM_MS = 1_000.0
# The pool's connections opened at once (and kept): a lease hand-off within one process
# runs two statements at a time (the holder's write and unlock, the next request's try),
# and a connection opened in the middle of one delays it (a backend to start, its
# session to set up; see sessions).
_MIN_CONNECTIONS = 2
# How long an operation waits for a free pooled connection before it fails.
_CONNECTION_TIMEOUT_S = 30.0

_METADATA_KEYS = ("subject", "parent_subject", "initiator", "source")


def _require_id(machine_id: object, operation: str) -> str:
    if not isinstance(machine_id, str) or not machine_id:
        raise MachineIdError(operation, machine_id)
    return machine_id


def _local_grant(fence: int, state_text: str) -> Row:
    """A lease handed on in this process, as the row a granting ``lock_read`` returns."""
    return (fence, None, None, None, state_text)


def _metadata(metadata: object) -> dict[str, str | None]:
    source = metadata if isinstance(metadata, Mapping) else {}
    return {
        key: value if isinstance(value := source.get(key), str) else None for key in _METADATA_KEYS
    }


class PostgresMachineMemory(Closeable):
    """Machine memory on PostgreSQL: states and fenced, expiring locks shared by processes.

    The semantics and errors are those of
    :class:`~arvo_concurrent.memory.ConcurrentMachineMemory`; what differs is where the
    state lives (tables in ``schema``), so every process (and machine) that opens a
    memory on the same database and schema shares the workflows.

    * ``read`` and ``write`` move states as JSON (``jsonb``): a write of a value JSON
      cannot carry back exactly is refused (see :mod:`~arvo_concurrent.postgres.jsonstate`).
    * A lock is a lease row: an owner (the calling thread, unique across processes,
      unless ``owner=`` names one: a non-empty str, meaningful across processes), a
      fence from a database SEQUENCE (every lease gets a larger one) and an expiry
      ``lock_ttl_ms`` after the grant, on the database clock. Locking again as the
      holder renews the lease; one ``unlock`` releases.
    * A refused ``lock`` joins the id's queue in the database and waits for the
      holder's unlock, which hands the lease straight to the oldest live request and
      wakes it with a NOTIFY, or for the lease's expiry; it never polls on a fixed
      period. It gives up once the id's lock has not changed hands for a whole budget,
      ``sum(lock_initial_delay_ms * lock_backoff_exponent**i for i < lock_max_retries)``,
      and waits at most ``lock_ttl_ms`` in all, or the budget if longer (0 retries:
      one try, no wait). Requests
      of one process for one id queue FIFO in the process, and only the first of them
      is in the database's queue. A holder's :meth:`write_and_unlock` hands the lease
      straight to its process's next request (no claim), at most
      :data:`~arvo_concurrent.postgres.waiting.LOCAL_STREAK` times in a row; then it
      goes to the oldest request in the database, so processes take turns. A lease
      handed to a request whose process died lapses after a second.
    * Fencing: a holder's ``write`` stores only while its lease is the latest granted on
      the id (even one that expired, as long as nobody locked since); otherwise
      :class:`~arvo_concurrent.memory.FencingError` and nothing is stored. The latest
      fence outlives the lease (cleanup and unlock included), so a write under any
      older lease stays refused. A write by an owner without a lease is refused while
      someone else's lease is in force; given ``prev_data`` it is also a
      compare-and-set on that state (:class:`StaleStateError` when it changed).
    * ``unlock`` releases only the caller's lease. ``cleanup`` deletes the state and
      drops a lease held by someone else; the holder keeps its lease until it unlocks.
    * In a handler run by a :class:`~arvo_concurrent.postgres.PostgresTransport` broker
      opened with the same conninfo, ``write`` and ``unlock`` are deferred: the writes
      commit in the transaction that settles the event (a refusal then makes the event
      run again), and the unlocks follow (see :mod:`~arvo_concurrent.postgres.outbox`).

    Every method is thread-safe and blocks for one or two round trips to the database
    (``lock`` also while it waits), and may raise :class:`MemoryBackendError` when the
    database fails, and ``ClosedError`` after :meth:`close`.

    Args:
        conninfo: a libpq connection string or URL; the memory opens its own pool.
        pool: instead of ``conninfo``, a ``psycopg_pool.ConnectionPool`` to share (not
            closed by :meth:`close`; the LISTEN connection is opened from its conninfo).
        lock_max_retries: see the budget above (int >= 0).
        lock_initial_delay_ms: the first backoff delay, in ms (>= 0).
        lock_backoff_exponent: growth factor of successive delays (>= 1).
        lock_ttl_ms: lease duration, in ms (> 0).
        enable_cleanup: whether ``cleanup`` deletes anything (PostgreSQL deployments
            usually keep finished workflows, hence False by default).
        schema: the PostgreSQL schema of the tables.
        create_schema: run :func:`~arvo_concurrent.postgres.migrate` at construction;
            otherwise the tables must exist (``SchemaError`` if not).
        max_connections: the size of the pool the memory opens (two of them are open
            and set up when the constructor returns; see
            :mod:`~arvo_concurrent.postgres.sessions`).
        queue_locally: queue this process's requests for one id in the process first,
            so that one of them at a time waits in the database (False: each waits in
            the database itself; there for comparison).

    Raises:
        MemoryConfigError: naming the parameter whose value is wrong.
        MemoryBackendError: the database could not be reached.
        SchemaError: ``create_schema=False`` and the tables are missing or older.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        pool: ConnectionPool[Any] | None = None,
        lock_max_retries: int = 3,
        lock_initial_delay_ms: float = 100,
        lock_backoff_exponent: float = 1.5,
        lock_ttl_ms: float = 120_000,
        enable_cleanup: bool = False,
        schema: str = "arvo",
        create_schema: bool = True,
        max_connections: int = 10,
        queue_locally: bool = True,
    ) -> None:
        self._config = MemoryConfig.validated(
            lock_max_retries,
            lock_initial_delay_ms,
            lock_backoff_exponent,
            lock_ttl_ms,
            enable_cleanup,
        )
        _check_setup(conninfo, pool, schema, max_connections)
        self._schema = schema
        self._sql = Statements.for_schema(schema)
        self._channel = channel_for(schema)
        self._clock: Callable[[], float] = time.monotonic
        self._lines = Lines(self._clock)
        self._queue_locally = bool(queue_locally)
        self._fences: dict[tuple[str, str], int] = {}
        self._queued: set[int] = set()  # this memory's tickets in the database queue
        self._fences_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = False
        if pool is None:
            assert conninfo is not None
            target, kwargs = conninfo, {"autocommit": True}
        else:
            target, kwargs = _pool_target(pool)
        self._target = target
        listener = self._open(target, kwargs, create_schema)
        self._owns_pool = pool is None
        try:
            self._pool = pool or self._open_pool(target, kwargs, max_connections)
        except BaseException:
            listener.close()
            raise
        try:
            self._wakeups = Wakeups(lambda: self._connect(target, kwargs), self._channel, listener)
        except BaseException:
            listener.close()
            if self._owns_pool:
                self._pool.close()
            raise

    @property
    def config(self) -> MemoryConfig:
        """The validated settings."""
        return self._config

    @property
    def schema(self) -> str:
        """The PostgreSQL schema of the tables."""
        return self._schema

    # -- states ------------------------------------------------------------------------

    def read(self, machine_id: str, *, owner: object = None) -> dict[str, Any] | None:
        """Return the state of ``machine_id``, or None if there is none.

        ``owner`` is accepted for symmetry with the in-process memory and not used:
        every read asks the database, so it sees every write that returned before it.
        Blocks for one round trip. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
        """
        _require_id(machine_id, "read")
        rows = self._run(machine_id, "read", self._sql.read, {"id": machine_id})
        return decode_state(rows[0][0]) if rows else None

    def write(
        self,
        machine_id: str,
        data: dict[str, Any],
        prev_data: dict[str, Any] | None = None,
        metadata: object = None,
        *,
        owner: object = None,
    ) -> None:
        """Store ``data`` as the state of ``machine_id``.

        Under ``owner``'s lease (default owner: the calling thread) when it holds one
        through this memory; without, refused while another lease is in force, and a
        compare-and-set on ``prev_data`` when given. ``metadata`` (a mapping with
        ``subject``, ``parent_subject``, ``initiator``, ``source``) fills the state's
        columns of those names. Blocks for one round trip (two when refused).
        Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            MemoryDataError: ``data`` is not a dict.
            StateEncodingError: ``data`` holds a value JSON cannot carry back exactly.
            FencingError: ``owner``'s lease is no longer the latest one, or ``owner`` has
                none and someone else holds the lock; nothing was stored.
            StaleStateError: without a lease, the state is no longer ``prev_data``.
            OwnerError: ``owner`` is not a non-empty str.
        """
        _require_id(machine_id, "write")
        if not isinstance(data, dict):
            raise MemoryDataError(machine_id, data)
        writer = owner_text(owner)
        params: dict[str, Any] = {
            "id": machine_id,
            "owner": writer,
            "data": encode_state(machine_id, data),
            **_metadata(metadata),
        }
        with self._fences_lock:
            fence = self._fences.get((machine_id, writer))
        if fence is not None:
            params["fence"] = fence
            statement = self._sql.write_fenced
        elif prev_data is not None:
            params["prev"] = encode_state(machine_id, prev_data)
            statement = self._sql.write_swap
        else:
            statement = self._sql.write_free
        box = outbox_for(self._target)
        if box is not None:
            # In a PostgreSQL broker's handler: commits with the event (see outbox).
            refusal = functools.partial(
                self._refusal, machine_id, writer, fence, swapped=prev_data is not None
            )
            box.writes.append(PendingWrite(statement, params, refusal))
            return
        if not self._run(machine_id, "write", statement, params):
            raise self._refusal(machine_id, writer, fence, swapped=prev_data is not None)

    def write_and_unlock(
        self,
        machine_id: str,
        data: dict[str, Any],
        metadata: object = None,
        *,
        owner: object = None,
    ) -> bool:
        """:meth:`write` under ``owner``'s lease, then :meth:`unlock`, in one round trip.

        Both commit together: the next holder (the waiter the lease is handed to) sees
        ``data``. The lock is released whether or not the write stored, as a
        ``write`` followed by ``unlock`` in a ``finally`` would. Without a lease held
        through this memory, or in a PostgreSQL broker's handler (see the class), it is
        exactly ``write`` then ``unlock``. Blocks for one round trip (two when the
        write is refused). Thread-safe.

        Returns:
            What :meth:`unlock` returns.

        Raises:
            What :meth:`write` raises (after the unlock).
        """
        _require_id(machine_id, "write")
        holder = owner_text(owner)
        with self._fences_lock:
            fence = self._fences.get((machine_id, holder))
        if fence is None or outbox_for(self._target) is not None:
            try:
                self.write(machine_id, data, None, metadata, owner=holder)
            finally:
                released = self.unlock(machine_id, holder)
            return released
        try:
            if not isinstance(data, dict):
                raise MemoryDataError(machine_id, data)
            encoded = encode_state(machine_id, data)
        except BaseException:
            self.unlock(machine_id, holder)
            raise
        with self._fences_lock:
            self._fences.pop((machine_id, holder), None)
        key = key_for(machine_id)
        params = {
            **_metadata(metadata),
            "id": machine_id,
            "owner": holder,
            "fence": fence,
            "data": encoded,
            "channel": self._channel,
            "key": key,
            "claim_ms": _CLAIM_MS,
            "ttl_ms": self._config.lock_ttl_ms,
        }
        # The lease goes straight to this process's next request, parked for it.
        slot = self._lines.released(machine_id) if self._queue_locally else None
        params["heir"] = None if slot is None else slot.owner
        grant = None
        try:
            rows = self._run(machine_id, "write", self._sql.write_unlock, params)
            version, released, handed, fence_after = rows[0]
            if slot is not None and version is not None and released:
                grant = _local_grant(fence_after, encoded)
        finally:
            if slot is not None:
                slot.give(grant)
        if version is None:
            # A stale fence: the statement stored nothing and released nothing either.
            raise self._refusal(machine_id, holder, fence, swapped=False)
        return self._answer_unlock(machine_id, key, released, handed)

    def _refusal(
        self, machine_id: str, writer: str, fence: int | None, *, swapped: bool
    ) -> FencingError:
        rows = self._run(machine_id, "write", self._sql.write_refused, {"id": machine_id})
        holder, latest, live = rows[0] if rows else (None, 0, False)
        if fence is None and swapped and not (live and holder != writer):
            return StaleStateError(machine_id, writer)
        return FencingError(machine_id, writer, holder if live else None, latest)

    # -- locks -------------------------------------------------------------------------

    def lock(self, machine_id: str, owner: object = None) -> bool:
        """Take the lock of ``machine_id`` for ``owner`` (default: the calling thread).

        Blocks until granted, or until the budget rule gives up (see the class); locking
        an id ``owner`` already holds renews its lease and returns True. Thread-safe.

        Returns:
            True when ``owner`` holds the lock, False when it gave up.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            OwnerError: ``owner`` is not a non-empty str.
            ClosedError: the memory is or was closed (also while waiting).
        """
        return self._take(machine_id, owner, self._sql.lock) is not None

    def lock_and_read(
        self, machine_id: str, owner: object = None
    ) -> tuple[bool, dict[str, Any] | None]:
        """:meth:`lock`, then :meth:`read` once granted, in one round trip when it can.

        The state comes back with the grant (its latest committed version); when the
        lock saw none, it is read again (a first state may have been written meanwhile).
        The orchestration wrapper uses this instead of ``lock`` and ``read``. Blocks as
        ``lock`` does. Thread-safe.

        Returns:
            ``(True, state or None)`` when ``owner`` holds the lock; ``(False, None)``
            when it gave up.

        Raises:
            What ``lock`` and ``read`` raise; the lock is not held when it raises.
        """
        row = self._take(machine_id, owner, self._sql.lock_read)
        if row is None:
            return False, None
        try:
            if row[4] is not None:
                return True, decode_state(row[4])
            return True, self.read(machine_id)  # none seen: maybe one written since
        except BaseException:
            self.unlock(machine_id, owner)
            raise

    def _take(self, machine_id: str, owner: object, statement: bytes) -> Row | None:
        """Lock (see :meth:`lock`) with ``statement``; the row that granted it, or None."""
        _require_id(machine_id, "lock")
        holder = owner_text(owner)
        self._check_open()
        started = self._clock()
        with self._fences_lock:
            renewing = (machine_id, holder) in self._fences

        def budget(line: Line) -> LockWait:
            return LockWait(line, started, self._config.wait_budget_s, self._config.lock_ttl_s)

        if renewing or not self._queue_locally:
            # A holder renewing must not queue behind the requests waiting for its lock.
            return self._try_until_granted(
                machine_id, holder, budget(Line(handoff_at=started)), None, statement
            )

        line, head = self._lines.enter(machine_id, budget, holder)
        if not head:
            return None
        try:
            wait = budget(line)
            handed = self._wait_for_holder(machine_id, holder, line, wait)
            if handed is not None:
                return handed
            return self._try_until_granted(machine_id, holder, wait, line, statement)
        finally:
            self._lines.leave(machine_id, line)

    def _wait_for_holder(
        self, machine_id: str, holder: str, line: Line, wait: LockWait
    ) -> Row | None:
        """As the head of a line whose request holds the lease: wait for it to hand it on.

        Returns the granting row, or None: the head goes to the database (the holder
        unlocked otherwise, the line had its streak, or the deadline passed).
        """
        slot = self._lines.park(line, holder)
        if slot is None:
            return None
        answered = slot.wait(max(wait.deadline() - self._clock(), 0.0))
        if not answered and self._lines.unpark(line, slot):
            return None
        slot.wait(None)  # the holder took the slot: its statement is running
        row = slot.row
        if row is not None:
            self._granted(machine_id, holder, row[0], line, locally=True)
        return row

    def _try_until_granted(
        self, machine_id: str, holder: str, wait: LockWait, line: Line | None, statement: bytes
    ) -> Row | None:
        params: dict[str, Any] = {
            "id": machine_id,
            "owner": holder,
            "ttl_ms": self._config.lock_ttl_ms,
            "ticket": None,
            "keep_ms": _QUEUE_SLACK_MS / 2,
        }
        with self._wakeups.watch(key_for(machine_id)) as watch:
            while True:
                watch.arm()  # before the try: an unlock committed after it wakes us
                # Queued until the next try is due (plus some slack); 0: never queue.
                left_ms = (wait.deadline() - self._clock()) * 1000
                params["queue_ms"] = left_ms + _QUEUE_SLACK_MS if left_ms > 0 else 0
                row = self._try_lock(params, statement)
                fence, holder_fence, left_s, ticket = row[:4]
                now = self._clock()
                if fence is not None:
                    self._granted(machine_id, holder, fence, line)
                    return row
                wait.observe(holder_fence, now)
                deadline = wait.deadline()
                if now >= deadline:
                    return self._give_up(params, statement)
                params["ticket"] = ticket
                # No lease seen (it ended as we looked): try again at once.
                pause = 0.0 if left_s is None else max(left_s, 0.0) + _EXPIRY_SLACK_S
                watch.wait(min(deadline - now, pause))
                self._check_open()

    def _try_lock(self, params: dict[str, Any], statement: bytes) -> Row:
        ticket = params["ticket"]
        row = self._run(params["id"], "lock", statement, params)[0]
        with self._fences_lock:
            if row[0] is not None:
                self._queued.discard(ticket)
            elif row[3] is not None:
                self._queued.add(row[3])
        return row

    def _granted(
        self, machine_id: str, holder: str, fence: int, line: Line | None, *, locally: bool = False
    ) -> None:
        with self._fences_lock:
            self._fences[(machine_id, holder)] = fence
        if line is not None:
            self._lines.granted(line, locally=locally)

    def _give_up(self, params: dict[str, Any], statement: bytes) -> Row | None:
        """Leave the queue; the granting row if an unlock handed this request the lease."""
        ticket = params["ticket"]
        if ticket is None:
            return None
        with self._fences_lock:
            self._queued.discard(ticket)
        if self._run(params["id"], "lock", self._sql.leave_queue, params):
            return None
        # The ticket was gone: handed the lease (claim it), or expired (one last try).
        row = self._try_lock({**params, "queue_ms": 0}, statement)
        if row[0] is None:
            return None
        self._granted(params["id"], params["owner"], row[0], None)
        return row

    def unlock(self, machine_id: str, owner: object = None) -> bool:
        """Release the lock of ``machine_id`` held by ``owner`` (default: the calling thread).

        Blocks for one round trip (two when it releases nothing). Thread-safe.

        Returns:
            True when the lock was released or nobody held it; False when someone else
            holds it (it stays locked).

        Raises:
            MachineIdError: ``machine_id`` is empty.
            OwnerError: ``owner`` is not a non-empty str.
        """
        _require_id(machine_id, "unlock")
        holder = owner_text(owner)
        with self._fences_lock:
            fence = self._fences.pop((machine_id, holder), None)
        key = key_for(machine_id)
        params = {
            "id": machine_id,
            "owner": holder,
            "fence": fence,
            "channel": self._channel,
            "key": key,
            "claim_ms": _CLAIM_MS,
            "heir": None,
            "ttl_ms": self._config.lock_ttl_ms,
        }
        self._let_head_go(machine_id)
        box = outbox_for(self._target)
        if box is not None:
            # The lock outlasts the handler's writes: it is released in the transaction
            # that commits them (or after it, should that roll back).
            box.writes.append(PendingWrite(self._sql.unlock, params, None))
            box.after.append(functools.partial(self._wakeups.wake, key))
            return True
        rows = self._run(machine_id, "unlock", self._sql.unlock, params)
        return self._answer_unlock(machine_id, key, bool(rows), rows[0][1] if rows else None)

    def _let_head_go(self, machine_id: str) -> None:
        """An unlock that hands nothing on locally: the parked head goes to the database."""
        slot = self._lines.released(machine_id)
        if slot is not None:
            slot.give(None)

    def _answer_unlock(self, machine_id: str, key: str, released: bool, handed: int | None) -> bool:
        """What an unlock returns once its statement ran; wakes local waiters first."""
        if released:
            if self._wakes_locally(handed):
                self._wakeups.wake(key)
            return True
        rows = self._run(machine_id, "unlock", self._sql.held_by_other, {"id": machine_id})
        return not (rows and rows[0][0])

    def _wakes_locally(self, handed: int | None) -> bool:
        """Whether an unlock wakes this memory's waiters at once, before its NOTIFY.

        Only when one of them can take the lease: it was released free, or handed to
        one of this memory's tickets. A lease handed to another process's request stays
        that request's until it claims it; waking the waiters here would only buy each a
        refused try (a round trip and a lock of the lease row, in the middle of the
        hand-off). The NOTIFY still wakes everyone, whatever the unlock did.
        """
        if handed is None:
            return True
        with self._fences_lock:
            return handed in self._queued

    def cleanup(self, machine_id: str, *, owner: object = None) -> None:
        """Delete the state of ``machine_id`` (a finished workflow), and its lock.

        Does nothing when ``enable_cleanup`` is False. A lock held by ``owner`` (default:
        the calling thread) stays until its ``unlock``; a lock held by anyone else is
        dropped and its waiters are woken. The id's latest fence is kept, so a write
        under an older lease stays refused. Blocks for one round trip. Thread-safe.

        Raises:
            MachineIdError: ``machine_id`` is empty.
            OwnerError: ``owner`` is not a non-empty str.
        """
        _require_id(machine_id, "cleanup")
        if not self._config.enable_cleanup:
            return
        key = key_for(machine_id)
        params = {
            "id": machine_id,
            "owner": owner_text(owner),
            "channel": self._channel,
            "key": key,
        }
        if self._run(machine_id, "cleanup", self._sql.cleanup, params)[0][0]:
            self._wakeups.wake(key)

    def clear(self) -> None:
        """Delete every state and lease of the schema, whatever ``enable_cleanup`` says.

        Affects every process using the schema; their waiters are woken. Blocks for one
        round trip. Thread-safe.
        """
        self._run(None, "clear", self._sql.clear, {"channel": self._channel})
        with self._fences_lock:
            self._fences.clear()
        self._wakeups.wake(WAKE_ALL)

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop listening and close the pool the memory opened. Idempotent, thread-safe.

        ``lock`` calls waiting in this process raise ``ClosedError``, and so does every
        later operation. Leases held stay in the database until their holders' unlock
        or their expiry. Blocks until the listener thread and the pool's threads ended,
        or ``timeout`` seconds (None: no limit).
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        deadline = deadline_after(timeout)
        self._lines.close()
        self._wakeups.close(self._send_stop, remaining(deadline))
        self._leave_queues()
        if self._owns_pool:
            left = remaining(deadline)
            # The pool's own timeout has no "no limit": an hour stands for it.
            self._pool.close(timeout=3600.0 if left is None else max(left, 0.001))

    # -- database ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("memory")

    def _run(
        self,
        machine_id: str | None,
        operation: str,
        statement: bytes,
        params: Mapping[str, Any],
    ) -> list[Row]:
        """Run one statement on a pooled connection; its rows (empty when it has none)."""
        self._check_open()
        try:
            with self._pool.connection() as conn:
                cursor = conn.execute(statement, params)
                return cursor.fetchall() if cursor.description is not None else []
        except PoolClosed as error:
            raise ClosedError("memory") from error
        except psycopg.Error as error:
            raise MemoryBackendError(machine_id, operation, str(error).strip()) from error

    def _leave_queues(self) -> None:
        """Withdraw the requests this memory still has queued (their callers are gone)."""
        with self._fences_lock:
            tickets, self._queued = list(self._queued), set()
        if not tickets:
            return
        try:
            with self._pool.connection(timeout=1.0) as conn:
                conn.execute(self._sql.leave_queues, {"tickets": tickets})
        except psycopg.Error:
            # Their rows expire on their own, within a second or so.
            logger.debug("Could not withdraw queued lock requests at close", exc_info=True)

    def _send_stop(self) -> None:
        with self._pool.connection(timeout=1.0) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (self._channel, self._wakeups.stop_payload))

    @staticmethod
    def _connect(target: str, kwargs: dict[str, Any]) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = psycopg.Connection.connect(target, **kwargs)
        return conn

    def _open_pool(
        self, target: str, kwargs: dict[str, Any], max_connections: int
    ) -> ConnectionPool[Any]:
        """The memory's own pool, once its first connections are open and set up.

        Waiting here keeps that work (a backend each, see sessions) out of the first
        requests, which would otherwise queue behind it.
        """
        pool: ConnectionPool[Any] = ConnectionPool(
            target,
            min_size=min(_MIN_CONNECTIONS, max_connections),
            max_size=max_connections,
            kwargs={**kwargs, **SESSION_KWARGS},
            configure=session_setup(self._sql),
            open=True,
            name=f"arvo-memory-{self._schema}",
            timeout=_CONNECTION_TIMEOUT_S,
        )
        try:
            pool.wait(timeout=_CONNECTION_TIMEOUT_S)
        except BaseException as error:
            pool.close()
            if isinstance(error, PoolTimeout):
                raise MemoryBackendError(None, "connect", str(error).strip()) from error
            raise
        return pool

    def _open(
        self, target: str, kwargs: dict[str, Any], create_schema: bool
    ) -> psycopg.Connection[Any]:
        """The listening connection, opened first so an unreachable server fails at once."""
        try:
            conn = self._connect(target, kwargs)
        except psycopg.Error as error:
            raise MemoryBackendError(None, "connect", str(error).strip()) from error
        try:
            if create_schema:
                migrate(conn, self._schema)
            else:
                check_schema(conn, self._schema)
        except BaseException:
            conn.close()
            raise
        return conn


def _check_setup(
    conninfo: str | None, pool: ConnectionPool[Any] | None, schema: object, max_connections: object
) -> None:
    if (conninfo is None) == (pool is None):
        raise MemoryConfigError("conninfo", conninfo, "given, or else pool, but not both")
    if not isinstance(schema, str) or not schema:
        raise MemoryConfigError("schema", schema, "a non-empty str")
    if (
        not isinstance(max_connections, int)
        or isinstance(max_connections, bool)
        or max_connections < 1
    ):
        raise MemoryConfigError("max_connections", max_connections, "an int >= 1")


def _pool_target(pool: ConnectionPool[Any]) -> tuple[str, dict[str, Any]]:
    """Where ``pool`` connects, for the memory's own LISTEN connection."""
    conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
    kwargs = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
    return conninfo, {**(kwargs or {}), "autocommit": True}
