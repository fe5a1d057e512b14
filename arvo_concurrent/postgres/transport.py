"""PostgresTransport: a broker's events in a PostgreSQL queue that many processes serve.

Each process runs the same broker (handlers, pools of ``prefetch`` workers,
middleware, retries); the transport feeds its pools from the shared queue table:

* ``publish`` from outside inserts the event (one statement, with a NOTIFY of its
  topic). A feeder thread, woken by that NOTIFY (coalesced: one wake-up claims for
  every free slot) or by its poll, claims ready events for every topic's free slots in
  one statement (``FOR UPDATE SKIP LOCKED``), decodes them and submits them to the
  pools.
* What a handler publishes is collected; when the event is released, one statement
  marks it done, inserts its outputs, counts its lineage, marks it consumed and
  notifies. Outputs for a topic of this process are inserted as already claimed by
  it and run here, without a claim or a NOTIFY, while the topic holds fewer than two
  prefetches of events here (the rest of them wait in the pool).
* A failed attempt that is to be retried goes back to the queue, due after its
  backoff (its slot is free meanwhile, unlike the in-process broker). Spent retries:
  the event is ``dead`` (see :meth:`PostgresTransport.dead_letters`).
* Leases: a claimed event is the process's for ``lease_ms``; the feeder renews its
  leases every third of that. A process that dies stops renewing; any process then
  makes its events ready again.
* ``resolve`` counts its lineage in a row of its own; the settling that brings the
  count to zero notifies the resolving process, which collects the final event and
  the lineage's errors. The row also counts the lineage's events against the broker's
  ``max_hops`` (the outputs past it are not inserted: ``HopLimitError``), and records
  an abandoned resolve (timed out, or its future cancelled): from then on the
  lineage's outputs are not inserted, and its events still queued are dropped unrun
  (status ``dropped``) when a process reaches them, each reported as an
  ``EventDroppedError`` with reason ``"abandoned"``.
* Routing: each process records the topics it serves, renewed with its leases. A
  publish to a topic that no process served within ``routing_window_s`` is not
  inserted but reported as a ``RoutingError`` (to the lineage too), as in-process; one
  that a process served lately waits in the queue for its next subscriber. The served
  topics are cached and read again with the leases, or at once on a miss: the happy
  path costs a set lookup.

Delivery is at least once: an event whose process died before it settled runs again.
Handlers that use a :class:`~arvo_concurrent.postgres.PostgresMachineMemory` on the
same database get exactly-once steps (see :mod:`~arvo_concurrent.postgres.outbox`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed

from arvo_concurrent.actors.lifecycle import remaining
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.broker.delivery import Delivery
from arvo_concurrent.broker.errors import EventDroppedError, HopLimitError, RoutingError
from arvo_concurrent.broker.tracking import Lineage
from arvo_concurrent.errors import ArgumentError, ArvoConcurrentError, ClosedError
from arvo_concurrent.postgres.claims import Claim, ClaimPublisher, encode_event
from arvo_concurrent.postgres.dead_letters import DeadLetter
from arvo_concurrent.postgres.errors import QueueBackendError, QueueEncodingError
from arvo_concurrent.postgres.lineages import Lineages, decode_or_none, encode_errors
from arvo_concurrent.postgres.outbox import PendingWrite
from arvo_concurrent.postgres.outbox import current as current_outbox
from arvo_concurrent.postgres.queue_schema import check_queue_schema, migrate_queue
from arvo_concurrent.postgres.queue_statements import QueueStatements
from arvo_concurrent.postgres.wakeups import WAKE_ALL, Wakeups, key_for

if TYPE_CHECKING:
    from arvo_concurrent.broker.broker import ConcurrentEventBroker
    from arvo_concurrent.broker.delivery import Handler, Publish, Subscription

__all__ = ["PostgresTransport"]

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]

_CONNECTION_TIMEOUT_S = 30.0
# Forget done events and consumed marks this often (the purge is cheap but not free).
_PURGE_EVERY_S = 60.0
# A topic's events held by a process (running or waiting in its pool), in prefetches.
_LOCAL_BACKLOG = 2
# The abandoned lineages a process remembers (their events waiting in its pools are
# dropped); the oldest are forgotten first. The queue itself remembers them all.
_ABANDONED_KEPT = 4096


class _Slots:
    """One topic's pool and how many of its events this process holds."""

    __slots__ = ("held", "more", "pool")

    def __init__(self, pool: Subscription) -> None:
        self.pool = pool
        self.held = 0
        self.more = True  # the queue may hold ready events of this topic

    @property
    def free(self) -> int:
        return self.pool.prefetch - self.held


class PostgresTransport:
    """The PostgreSQL transport of a broker: a durable queue served by many processes.

    ``create_concurrent_event_broker(handlers, transport=PostgresTransport(dsn))``; one
    transport serves one broker, and the broker's ``close`` closes it. Every process
    that runs a broker on the same database and schema shares the events of its topics.
    The methods of its own (:meth:`dead_letters`, :meth:`requeue`, :meth:`counts`) are
    thread-safe and block for one round trip.

    Args:
        conninfo: a libpq connection string or URL; the transport opens its own pool.
        pool: instead of ``conninfo``, a ``psycopg_pool.ConnectionPool`` to share (not
            closed by the transport). Size it for the broker's prefetches plus two.
        schema: the PostgreSQL schema of the queue tables.
        create_schema: run :func:`migrate_queue` at construction; otherwise the tables
            must exist (``SchemaError`` if not).
        lease_ms: how long a claimed event stays this process's without a renewal;
            the events of a process that died run again this long after its last
            renewal (renewed every third of it).
        poll_interval_s: the feeder also looks for due events this often, when no
            NOTIFY came (retries due, events whose lease lapsed, a lost notification).
        dedup: skip an event whose (topic, source, id) was consumed already.
        retention_s: how long done events and consumed marks are kept.
        routing_window_s: a publish to a topic that no process subscribed to within
            this window (default: 7 days) is refused as a :class:`RoutingError`, not
            queued; an event for a topic served within it waits for a subscriber,
            however long. The lease period (``lease_ms / 1000``) gives the in-process
            rule: only topics served now. None: nothing is refused (events for any
            topic wait), for a process that queues work for services not deployed yet.
        max_connections: the size of the pool the transport opens (default: the sum
            of the prefetches, plus two).

    Raises:
        ArgumentError: a bad setting (a ValueError; the message and ``name`` name it).
        QueueBackendError: the database could not be reached.
        SchemaError: ``create_schema=False`` and the tables are missing or older.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        pool: ConnectionPool[Any] | None = None,
        schema: str = "arvo",
        create_schema: bool = True,
        lease_ms: float = 30_000.0,
        poll_interval_s: float = 1.0,
        dedup: bool = True,
        retention_s: float = 7 * 86_400.0,
        routing_window_s: float | None = 7 * 86_400.0,
        max_connections: int | None = None,
    ) -> None:
        durations = {
            "lease_ms": lease_ms,
            "poll_interval_s": poll_interval_s,
            "retention_s": retention_s,
        }
        if routing_window_s is not None:
            durations["routing_window_s"] = routing_window_s
        _check_settings(conninfo, pool, schema, durations)
        self._schema = schema
        self._sql = QueueStatements.for_schema(schema)
        self._channel = "arvo_queue_" + key_for(schema)[:16]
        self._me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lease_ms = float(lease_ms)
        self._poll_s = float(poll_interval_s)
        self._dedup = bool(dedup)
        self._retention_s = float(retention_s)
        self._routing_window_s = None if routing_window_s is None else float(routing_window_s)
        self._max_connections = max_connections
        if pool is None:
            assert conninfo is not None
            self._target = conninfo
            self._kwargs: dict[str, Any] = {"autocommit": True}
        else:
            conninfo_of = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
            kwargs = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
            self._target, self._kwargs = conninfo_of, {**(kwargs or {}), "autocommit": True}
        self._listener: psycopg.Connection[Any] | None = self._open(create_schema)
        self._owns_pool = pool is None
        try:
            self._pool = pool or ConnectionPool(
                self._target,
                min_size=1,
                max_size=max_connections or 4,
                kwargs=self._kwargs,
                open=True,
                name=f"arvo-queue-{schema}",
                timeout=_CONNECTION_TIMEOUT_S,
            )
        except BaseException:
            self._listener.close()
            raise
        self._lock = threading.Lock()
        self._slots: dict[str, _Slots] = {}
        self._lineages = Lineages(self._sql, self._report)
        self._abandoned: dict[str, None] = {}  # an ordered set, bounded
        self._served: frozenset[str] = frozenset()  # topics some process served lately
        self._wake = threading.Event()
        self._due_at = math.inf
        self._purged_at = -math.inf
        self._stopping = False
        self._closed = False
        self._broker: ConcurrentEventBroker | None = None
        self._wakeups: Wakeups | None = None
        self._feeder: threading.Thread | None = None

    @property
    def worker_id(self) -> str:
        """This transport's name in the ``locked_by`` column (host:pid:random)."""
        return self._me

    @property
    def schema(self) -> str:
        """The PostgreSQL schema of the queue tables."""
        return self._schema

    # -- the Transport protocol (called by the broker) -----------------------------------

    def attach(self, broker: ConcurrentEventBroker) -> None:
        """Serve ``broker``: start listening and feeding. Called once, by the broker."""
        if self._broker is not None:
            raise ArgumentError(
                "A PostgresTransport serves one broker; make one per broker", "broker", broker
            )
        if self._closed:
            raise ClosedError("transport")
        self._broker = broker
        listener, self._listener = self._listener, None
        assert listener is not None
        self._wakeups = Wakeups(self._connect, self._channel, listener, self._notified)
        self._feeder = threading.Thread(target=self._feed, name="arvo-pg-feeder", daemon=True)
        self._feeder.start()

    def wrap(self, fn: Handler) -> Handler:
        """``fn`` run with the claimed event's outbox current (see ``outbox``)."""

        def run(event: Any, publish: Publish) -> object:
            claim = getattr(publish, "claim", None)
            if isinstance(claim, Claim) and claim.lineage_id in self._abandoned:
                claim.dropped = True  # settled as 'dropped', and reported then
                return None
            token = current_outbox.set(claim.outbox if isinstance(claim, Claim) else None)
            try:
                return fn(event, publish)
            finally:
                current_outbox.reset(token)

        return run

    def subscribed(self, topic: str, subscription: Subscription) -> None:
        """Feed ``subscription`` the ready events of ``topic``; record that this process serves it.

        Blocks for one round trip; when that fails, it is reported and the next renewal
        of the leases records it.
        """
        with self._lock:
            self._slots[topic] = _Slots(subscription)
            wanted = sum(slots.pool.prefetch for slots in self._slots.values()) + 2
        try:
            self._read_served()
        except ArvoConcurrentError as error:
            self._report(error, None)
        if self._owns_pool and self._max_connections is None:
            self._pool.resize(min_size=1, max_size=max(wanted, 4))
        self._wake.set()

    def unsubscribed(self, topic: str) -> None:
        """Claim no more events of ``topic``."""
        with self._lock:
            self._slots.pop(topic, None)

    def send(self, event: Any, lineage: Lineage) -> None:
        """Insert ``event`` into the queue; ``lineage[1:]`` wait for its whole lineage.

        Blocks for one round trip. An event for a topic no process served within
        ``routing_window_s`` is not queued but reported as a :class:`RoutingError` (to
        ``lineage`` and ``on_error``), as the in-process broker does. A tracker that is
        abandoned marks the lineage abandoned in the queue, for every process.

        Raises:
            InvalidEventError / QueueEncodingError: the event cannot be queued.
            QueueBackendError: the database failed (the event may or may not be queued).
            ClosedError: the transport is closed.
        """
        text = encode_event(event)
        if self._refused(event, lineage):
            return
        trackers = lineage[1:]
        lineage_id = self._lineages.open(event, trackers)
        params = {
            "lineage": lineage_id,
            "topic": event.to,
            "event": text,
            "event_id": str(getattr(event, "id", "")),
            "source": str(getattr(event, "source", "")),
            "reply_to": next((t.capture_topic for t in trackers if t.capture_topic), None),
            "channel": self._channel,
        }
        try:
            self._run("publish", self._sql.publish, params, event=event)
        except BaseException:
            if lineage_id is not None:
                self._lineages.cancel(lineage_id)
            raise
        if lineage_id is not None:
            abandon = functools.partial(self._abandon, lineage_id, event)
            for tracker in trackers:
                tracker.when_abandoned(abandon)

    def take_back(self, item: Delivery) -> bool:
        """Give an event claimed but never started back to the queue (at close)."""
        claim = getattr(item.publish, "claim", None)
        if not isinstance(claim, Claim):
            return False
        self._give_back([claim])
        return True

    def stop(self) -> None:
        """Claim nothing more; the events held still run and settle. Idempotent; never blocks.

        A claim already under way still delivers what it got (close gives it back).
        """
        with self._lock:
            self._stopping = True
        self._wake.set()

    def close(self, deadline: float | None) -> None:
        """Stop listening and close the pool, by ``deadline`` (monotonic). Idempotent.

        The resolves of this process still waiting end with a :class:`ResolveError`
        (their lineages go on in the other processes); held events not yet settled go
        back to the queue when their lease lapses.
        """
        self.stop()
        feeder = self._feeder
        if feeder is not None and feeder is not threading.current_thread():
            feeder.join(remaining(deadline))
        if not self._closed:
            try:
                self._lineages.drop_collected(self._run)
            except ArvoConcurrentError:
                logger.debug("Could not delete collected lineages; the purge will", exc_info=True)
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._lineages.end_all()
        if self._wakeups is not None:
            self._wakeups.close(self._send_stop, remaining(deadline))
        elif self._listener is not None:
            self._listener.close()
        if self._owns_pool:
            left = remaining(deadline)
            self._pool.close(timeout=3600.0 if left is None else max(left, 0.001))

    # -- dead letters and inspection -----------------------------------------------------

    def dead_letters(self, topic: str | None = None, *, limit: int = 100) -> list[DeadLetter]:
        """The dead events (of ``topic``, or all), oldest first, at most ``limit``."""
        rows = self._run("dead_letters", self._sql.dead, {"topic": topic, "limit": limit})
        return [
            DeadLetter(
                id=row[0],
                topic=row[1],
                event=_decode_or_text(row[2]),
                attempts=row[3],
                error=row[4],
                created_at=row[5],
                updated_at=row[6],
            )
            for row in rows
        ]

    def requeue(self, ids: Sequence[int]) -> list[int]:
        """Make the dead events ``ids`` ready again, attempts reset; the ids requeued."""
        rows = self._run("requeue", self._sql.requeue, {"ids": list(ids), "channel": self._channel})
        return sorted(rows[0][0] or []) if rows else []

    def counts(self) -> dict[str, int]:
        """The events of the queue per status.

        ``ready``, ``running``, ``done``, ``dead``, and ``dropped`` (not run: their
        resolve was abandoned).
        """
        counts = dict.fromkeys(("ready", "running", "done", "dead", "dropped"), 0)
        counts.update({row[0]: row[1] for row in self._run("counts", self._sql.counts, {})})
        return counts

    # -- the feeder thread ---------------------------------------------------------------

    def _feed(self) -> None:
        upkeep_at = 0.0
        while True:
            now = time.monotonic()
            pause = min(self._poll_s, self._due_at - now, upkeep_at - now)
            woken = self._wake.wait(max(pause, 0.0))
            self._wake.clear()
            if self._stopping:
                return
            if not woken:
                self._mark_all()  # a poll: look at every topic
            try:
                self._claim()
                if time.monotonic() >= upkeep_at:
                    self._upkeep()
                    upkeep_at = time.monotonic() + self._lease_ms / 3000
            except (QueueBackendError, ClosedError) as error:
                if not self._stopping:
                    self._report(error, None)

    def _mark_all(self) -> None:
        with self._lock:
            for slots in self._slots.values():
                slots.more = True
            if self._due_at <= time.monotonic():
                self._due_at = math.inf

    def _claim(self) -> None:
        with self._lock:
            wanted = [(t, s.free) for t, s in self._slots.items() if s.more and s.free > 0]
            for topic, n in wanted:
                self._slots[topic].held += n  # reserved, so a settling cannot take them
        if not wanted:
            return
        params = {
            "topics": [topic for topic, _ in wanted],
            "slots": [n for _, n in wanted],
            "me": self._me,
            "lease_ms": self._lease_ms,
            "dedup": self._dedup,
        }
        try:
            rows = self._run("claim", self._sql.claim, params)
        except BaseException:
            self._unreserve(dict(wanted))
            raise
        got: dict[str, int] = {}
        for row in rows:
            got[row[1]] = got.get(row[1], 0) + 1
        with self._lock:
            for topic, n in wanted:
                slots = self._slots.get(topic)
                if slots is not None and got.get(topic, 0) < n:
                    slots.held -= n - got.get(topic, 0)
                    slots.more = False  # drained; a NOTIFY sets it again
        for row in rows:
            self._deliver(row)

    def _deliver(self, row: Row) -> None:
        row_id, topic, text, attempt, lineage_id, reply_to, consumed, abandoned = row
        try:
            event = ArvoEvent.from_json(text)
        except Exception as error:  # noqa: BLE001 - a corrupt row must not stop the feeder
            self._bury(row_id, topic, text, error)
            return
        claim = self._claim_for(
            row_id, topic, event, attempt=attempt, lineage_id=lineage_id, reply_to=reply_to
        )
        if abandoned:
            claim.dropped = True
            self._remember_abandoned(lineage_id)
        if consumed or abandoned:
            # A second delivery of a consumed event: done, no effect. An event of an
            # abandoned lineage: dropped unrun.
            self._settle(claim)
        else:
            self._submit(claim)

    def _claim_for(
        self,
        row_id: int,
        topic: str,
        event: Any,
        *,
        attempt: int,
        lineage_id: str | None,
        reply_to: str | None,
    ) -> Claim:
        return Claim(
            self._settle,
            row_id,
            topic,
            event,
            attempt=attempt,
            lineage_id=lineage_id,
            reply_to=reply_to,
            conninfo=self._target,
        )

    def _submit(self, claim: Claim) -> None:
        broker = self._broker
        assert broker is not None
        # The claim first: it settles before the broker's tracker is released, so an
        # idle broker (wait_for_idle) has settled all its events in the database.
        lineage = (claim, broker.tracker)
        with self._lock:
            slots = self._slots.get(claim.topic)
        broker.tracker.add()
        publisher = ClaimPublisher(claim, lineage, self._refused)
        if slots is not None and slots.pool.submit(
            Delivery(claim.event, lineage, publisher, slots.pool)
        ):
            return
        broker.tracker.done()
        self._give_back([claim])  # unsubscribed meanwhile

    def _upkeep(self) -> None:
        with self._lock:
            holding = any(slots.held for slots in self._slots.values())
        waiting = self._lineages.waiting()
        params = {"me": self._me, "lease_ms": self._lease_ms, "channel": self._channel}
        if holding:
            self._run("heartbeat", self._sql.heartbeat, params)
        self._run("reclaim", self._sql.reclaim, params)
        self._read_served()
        if waiting:
            # A lost notification costs one poll, not a hang.
            self._lineages.collect(self._run, waiting)
        self._lineages.drop_collected(self._run)
        now = time.monotonic()
        if now >= self._purged_at + _PURGE_EVERY_S:
            self._purged_at = now
            retention = max(self._retention_s, self._routing_window_s or 0.0)
            params = {"retention_s": self._retention_s, "subscribed_s": retention}
            self._run("purge", self._sql.purge, params)

    # -- settling ------------------------------------------------------------------------

    def _settle(self, claim: Claim) -> None:
        """Record the outcome of ``claim``'s run; runs on the worker that ran it.

        Never raises: a failure to settle is reported and the event stays ``running``,
        to run again once its lease lapses; the slot is freed either way.
        """
        status, delay_ms, error = _outcome(claim)
        outputs = claim.outputs if status == "done" else []
        mine = self._reserve([output.to for output in outputs])
        kept: dict[str, int] = {}
        row: Row | None = None
        try:
            row = self._commit(claim, self._settle_params(claim, status, delay_ms, error, mine))
            if row is not None and row[3]:
                kept = dict(zip(row[4], row[3], strict=True))
        except Exception as failure:  # noqa: BLE001 - reported; the worker keeps serving
            self._report(failure, claim.event)
        finally:
            for after in claim.outbox.after:
                after()
            reserved = [(o.to, str(o.id)) for o, m in zip(outputs, mine, strict=True) if m]
            self._free(claim.topic, reserved, kept)
        if row is not None and row[0]:
            self._report_refused(claim, outputs, row)
        if status == "ready":
            self._due(delay_ms / 1000)
        for output in outputs:
            row_id = kept.get(str(output.id))
            if row_id is not None:
                kept_claim = self._claim_for(
                    row_id,
                    output.to,
                    output,
                    attempt=1,
                    lineage_id=claim.lineage_id,
                    reply_to=claim.reply_to,
                )
                self._submit(kept_claim)

    def _settle_params(
        self, claim: Claim, status: str, delay_ms: float, error: str | None, mine: list[bool]
    ) -> dict[str, Any]:
        outputs = claim.outputs if status == "done" else []
        return {
            "id": claim.row_id,
            "me": self._me,
            "status": status,
            "delay_ms": delay_ms,
            "error": error,
            "dedup": self._dedup,
            "topic": claim.topic,
            "source": str(getattr(claim.event, "source", "")),
            "event_id": str(getattr(claim.event, "id", "")),
            "lineage": claim.lineage_id,
            "reply_to": claim.reply_to,
            "lease_ms": self._lease_ms,
            "o_topics": [output.to for output in outputs],
            "o_events": claim.output_texts if outputs else [],
            "o_ids": [str(output.id) for output in outputs],
            "o_sources": [str(output.source) for output in outputs],
            "o_mine": mine,
            "final": claim.final_text,
            "errors": self._lineage_errors(claim),
            "max_hops": self._max_hops(),
            "channel": self._channel,
        }

    def _report_refused(self, claim: Claim, outputs: list[Any], row: Row) -> None:
        """Report what the settling of ``claim`` did not insert (its ``row`` says)."""
        room, abandoned = row[5], row[6]
        if claim.dropped:
            self._report(EventDroppedError(claim.event, claim.topic, "abandoned"), claim.event)
        if abandoned:
            self._remember_abandoned(claim.lineage_id)
        if not row[1] or room is None or room >= len(outputs):
            return
        for output in outputs[room:]:
            if abandoned:
                self._report(EventDroppedError(output, output.to, "abandoned"), output)
            else:  # recorded on the lineage by the settling itself
                self._report(HopLimitError(output, self._max_hops()), output)

    def _max_hops(self) -> int:
        broker = self._broker
        assert broker is not None
        return broker.max_hops

    def _commit(self, claim: Claim, params: dict[str, Any]) -> Row | None:
        """Run the settling statement, in one transaction with the outbox's statements."""
        writes = claim.outbox.writes
        try:
            with self._pool.connection() as conn:
                if not writes:
                    row: Row | None = conn.execute(self._sql.settle, params).fetchone()
                    return row
                if params["status"] == "done":
                    row, refused = self._commit_writes(conn, params, writes)
                    if row is not None:
                        return row
                else:
                    refused = None  # a failed attempt: its writes are dropped
                for write in writes:
                    if write.refusal is None:
                        conn.execute(write.statement, write.params)  # the unlocks
                if refused is not None:
                    # The lease was lost: the state moved on without this step. It runs
                    # again, on the state as it is now.
                    logger.warning("%r: %s; the event runs again", claim, refused)
                    again = {**params, "status": "ready", "error": _describe(refused)}
                    row = conn.execute(self._sql.settle, again).fetchone()
                else:
                    # A failed attempt, or an event settled elsewhere or consumed before.
                    row = conn.execute(self._sql.settle, params).fetchone()
                return row
        except PoolClosed as error:
            raise ClosedError("broker") from error
        except psycopg.Error as error:
            raise QueueBackendError("settle", str(error).strip(), claim.event) from error

    def _commit_writes(
        self, conn: psycopg.Connection[Any], params: dict[str, Any], writes: list[PendingWrite]
    ) -> tuple[Row | None, Exception | None]:
        """Writes + settling in one pipelined transaction: (its row, None) when committed.

        Otherwise rolled back: (None, the refusal of a write, or None when the event was
        settled elsewhere or consumed before).
        """
        refused: Exception | None = None
        # BEGIN and COMMIT as statements of the pipeline: two round trips in all, where
        # psycopg's transaction() in a pipeline syncs once more after its BEGIN.
        try:
            with conn.pipeline() as pipeline:
                conn.execute(b"BEGIN")
                cursors = [conn.execute(write.statement, write.params) for write in writes]
                settled = conn.execute(self._sql.settle, params)
                pipeline.sync()
                for write, cursor in zip(writes, cursors, strict=True):
                    if write.refusal is not None and not cursor.fetchall():
                        refused = write.refusal()
                        break
                row: Row | None = settled.fetchone()
                took_effect = refused is None and row is not None and row[0] and row[1]
                conn.execute(b"COMMIT" if took_effect else b"ROLLBACK")
        except BaseException:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):  # the error raised says more
                    conn.rollback()
            raise
        return (row, None) if took_effect else (None, refused)

    def _reserve(self, topics: list[str]) -> list[bool]:
        """Which outputs this process takes itself: those of its topics with room.

        Room is a free slot, or a place in a local backlog of up to ``prefetch`` more:
        a workflow's next step then runs where its last one did, without a claim, a
        NOTIFY or a wake-up of every other process, and a process busy with the
        workflows it has claims no new ones (its free slots stay at or below zero).
        """
        mine = [False] * len(topics)
        if self._stopping:
            return mine
        with self._lock:
            for i, topic in enumerate(topics):
                slots = self._slots.get(topic)
                if slots is not None and slots.held < slots.pool.prefetch * _LOCAL_BACKLOG:
                    slots.held += 1
                    mine[i] = True
        return mine

    def _free(self, topic: str, reserved: list[tuple[str, str]], kept: Mapping[str, int]) -> None:
        """Release the settled event's slot, and the reservations no output took.

        ``reserved``: the (topic, event id) of each output reserved; ``kept``: the ids
        of those inserted as this process's (all, or none, or the first ones up to the
        hop limit).
        """
        unused: dict[str, int] = {topic: 1}
        for reserved_topic, event_id in reserved:
            if event_id not in kept:
                unused[reserved_topic] = unused.get(reserved_topic, 0) + 1
        self._unreserve(unused)

    def _unreserve(self, counts: Mapping[str, int]) -> None:
        wake = False
        with self._lock:
            for topic, n in counts.items():
                slots = self._slots.get(topic)
                if slots is not None and n:
                    slots.held -= n
                    wake = wake or slots.more
        if wake:
            self._wake.set()

    def _due(self, delay_s: float) -> None:
        with self._lock:
            self._due_at = min(self._due_at, time.monotonic() + delay_s)
        self._wake.set()

    def _give_back(self, claims: list[Claim]) -> None:
        params = {"ids": [c.row_id for c in claims], "me": self._me, "channel": self._channel}
        try:
            self._run("release", self._sql.release, params)
        except ArvoConcurrentError:
            logger.warning("Could not give back %s; their leases will lapse", claims)
        self._unreserve({c.topic: 1 for c in claims})

    def _bury(self, row_id: int, topic: str, text: str, error: Exception) -> None:
        failure = QueueEncodingError(text, f"it does not decode as an ArvoEvent ({error})")
        params = {
            "id": row_id,
            "me": self._me,
            "status": "dead",
            "delay_ms": 0.0,
            "error": _describe(failure),
            "dedup": False,
            "topic": topic,
            "source": "",
            "event_id": "",
            "lineage": None,
            "reply_to": None,
            "lease_ms": self._lease_ms,
            "o_topics": [],
            "o_events": [],
            "o_ids": [],
            "o_sources": [],
            "o_mine": [],
            "final": None,
            "errors": "[]",
            "max_hops": self._max_hops(),
            "channel": self._channel,
        }
        try:
            self._run("settle", self._sql.settle, params)
        finally:
            self._unreserve({topic: 1})
        self._report(failure, None)

    # -- resolve across processes --------------------------------------------------------

    def _notified(self, payload: str) -> None:
        """A NOTIFY on the queue's channel (on the listener thread)."""
        if payload.startswith("t:"):
            with self._lock:
                slots = self._slots.get(payload[2:])
                if slots is None:
                    return
                slots.more = True
            self._wake.set()
        elif payload.startswith("l:"):
            if self._lineages.waits_for(payload[2:]):
                self._collect_safely([payload[2:]])
        elif payload.startswith("a:"):
            self._remember_abandoned(payload[2:])
        elif payload == WAKE_ALL:
            self._mark_all()
            self._wake.set()
            waiting = self._lineages.waiting()
            if waiting:
                self._collect_safely(waiting)

    # -- abandoned lineages and routing --------------------------------------------------

    def _abandon(self, lineage_id: str, event: Any) -> None:
        """A tracker of ``lineage_id`` was abandoned (a resolve gave up): tell every process.

        Runs in the abandoning thread, one round trip; a failure is reported (the
        lineage then runs on, as before).
        """
        self._lineages.forsake(lineage_id)
        self._remember_abandoned(lineage_id)
        if self._closed:
            return  # the close ended the lineage's resolve already
        try:
            params = {"lineage": lineage_id, "channel": self._channel}
            self._run("abandon", self._sql.abandon, params, event=event)
        except ArvoConcurrentError as error:
            self._report(error, event)

    def _remember_abandoned(self, lineage_id: str | None) -> None:
        if lineage_id is None:
            return
        with self._lock:
            self._abandoned[lineage_id] = None
            if len(self._abandoned) > _ABANDONED_KEPT:
                del self._abandoned[next(iter(self._abandoned))]

    def _refused(self, event: Any, lineage: Lineage) -> bool:
        """Whether ``event`` goes to a topic no process serves (then reported).

        Reported as a :class:`RoutingError` on ``lineage`` and to ``on_error``. A set
        lookup when the topic is served; one round trip (reading the served topics
        again) otherwise.
        """
        to = getattr(event, "to", None)
        if self._routing_window_s is None or not isinstance(to, str) or to in self._served:
            return False
        self._read_served()
        if to in self._served:
            return False
        broker = self._broker
        assert broker is not None
        broker.report(RoutingError(event, to, sorted(self._served)), event, lineage)
        return True

    def _read_served(self) -> None:
        """Renew this process's subscriptions; cache the topics served by any process."""
        with self._lock:
            mine = list(self._slots)
        window = self._routing_window_s or 0.0  # None: only the renewal matters
        params = {"me": self._me, "topics": mine, "window_s": window}
        rows = self._run("served", self._sql.served, params)
        self._served = frozenset(row[0] for row in rows) | frozenset(mine)

    def _collect_safely(self, ids: list[str]) -> None:
        try:
            self._lineages.collect(self._run, ids)
        except ArvoConcurrentError as error:
            # The feeder's upkeep collects them again.
            logger.warning("Could not collect settled lineages: %s", error)

    @staticmethod
    def _lineage_errors(claim: Claim) -> str:
        if claim.lineage_id is None or not claim.failures or claim.retry is not None:
            return "[]"
        return encode_errors(claim.failures)

    # -- database ------------------------------------------------------------------------

    def _run(
        self, operation: str, statement: Any, params: Mapping[str, Any], *, event: Any = None
    ) -> list[Row]:
        if self._closed:
            raise ClosedError("broker")
        try:
            with self._pool.connection() as conn:
                cursor = conn.execute(statement, params)
                return cursor.fetchall() if cursor.description is not None else []
        except PoolClosed as error:
            raise ClosedError("broker") from error
        except psycopg.Error as error:
            raise QueueBackendError(operation, str(error).strip(), event) from error

    def _report(self, error: Exception, event: Any) -> None:
        broker = self._broker
        if broker is not None:
            broker.report(error, event)

    def _connect(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = psycopg.Connection.connect(self._target, **self._kwargs)
        return conn

    def _open(self, create_schema: bool) -> psycopg.Connection[Any]:
        try:
            conn = self._connect()
        except psycopg.Error as error:
            raise QueueBackendError("connect", str(error).strip()) from error
        try:
            if create_schema:
                migrate_queue(conn, self._schema)
            else:
                check_queue_schema(conn, self._schema)
        except BaseException:
            conn.close()
            raise
        return conn

    def _send_stop(self) -> None:
        assert self._wakeups is not None
        with self._pool.connection(timeout=1.0) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (self._channel, self._wakeups.stop_payload))

    def __repr__(self) -> str:
        return f"<PostgresTransport schema={self._schema!r} worker={self._me!r}>"


def _outcome(claim: Claim) -> tuple[str, float, str | None]:
    """The status a run leaves its event in, its retry delay (ms) and its error."""
    if claim.dropped:
        return "dropped", 0.0, "EventDroppedError: its resolve was abandoned"
    if claim.retry is not None:
        return "ready", claim.retry[0] * 1000, _describe(claim.retry[1])
    event_id = getattr(claim.event, "id", None)
    # An error reported for the event itself (not for one of its outputs): it failed.
    failed = [e for e, about in claim.failures if getattr(about, "id", None) == event_id]
    if failed:
        return "dead", 0.0, _describe(failed[-1])
    return "done", 0.0, None


def _describe(error: BaseException) -> str:
    return f"{type(error).__qualname__}: {error}"


def _decode_or_text(text: str) -> Any:
    decoded = decode_or_none(text)
    return text if decoded is None else decoded


def _check_settings(
    conninfo: object, pool: object, schema: object, durations: Mapping[str, object]
) -> None:
    if (conninfo is None) == (pool is None):
        raise ArgumentError(
            "PostgresTransport needs conninfo or pool (not both)", "conninfo", conninfo
        )
    if not isinstance(schema, str) or not schema:
        raise ArgumentError(f"schema must be a non-empty str, got {schema!r}", "schema", schema)
    for name, value in durations.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ArgumentError(f"{name} must be a number > 0, got {value!r}", name, value)
