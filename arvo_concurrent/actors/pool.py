"""A handler pool: the items of one topic, run by up to ``prefetch`` worker actors.

Scheduling rules (what the broker promises about one handler):

* at most ``prefetch`` items run at once, and exactly ``prefetch`` while that many wait
  (but for the moment a worker settles one item before taking the next);
* an item never waits while a worker is idle: there is no head-of-line blocking,
  because an item is handed only to an idle worker, never queued behind a busy one,
  and a worker counts as idle only once it has settled its last item;
* items beyond the running ones wait in one FIFO backlog shared by the pool's workers,
  with room for ``max_queued`` items beyond the ``prefetch`` slots (None: unbounded);
  ``submit`` refuses one more.

Thread hand-offs are what a hop costs, so the pool keeps them to at most one per item:
``submit`` runs in the publisher's thread and appends to the backlog, telling an idle worker
only if there is one (one hand-off); a worker that finishes pops the next backlog item
itself instead of asking anyone for it. Neither takes a lock on that hot path (queueing
behind busy workers, taking the next item): a lock that the publisher and the workers take
on every hop convoys under the GIL (benchmarks/NOTES.md, issue 13). The pool's lock
guards only the rare transitions: a worker going idle, waking one, starting, closing.
A submit appends and then looks for an idle worker; a worker going idle lists itself
and then looks at the backlog; one of the two sees the other, so no wake-up is lost.

Workers start lazily: one more each time the waiting items outnumber the workers
being started, up to ``prefetch``, so a pool that only ever sees one item at a time
costs one thread. Starting a worker thread costs far more CPU than a hand-off, so a
burst into a cold pool of 50 would wait long for the last one if the publisher started
them one by one; instead each new worker, on its own thread, starts the next one due before
taking its first item, so the starts overlap with the publisher and with each other.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

import msgspec
import pykka

from arvo_concurrent.actors.lifecycle import StopRequest, await_stopped, remaining
from arvo_concurrent.actors.messages import Dispatch
from arvo_concurrent.actors.work import run_work, settle_work
from arvo_concurrent.actors.worker import PoolWorker, current_worker
from arvo_concurrent.observability.logfields import event_log_fields

__all__ = ["Admission", "HandlerPool", "PoolLoad"]

logger = logging.getLogger(__name__)

WorkerRef = pykka.ActorRef[PoolWorker]

_NOTHING: Any = object()


class Admission(Enum):
    """What :meth:`HandlerPool.submit` did with an item; true only when it took it."""

    ACCEPTED = "accepted"
    CLOSED = "closed"
    FULL = "full"

    def __bool__(self) -> bool:
        return self is Admission.ACCEPTED


# Module constants: an Enum member lookup costs as much as a dict operation, per event.
_ACCEPTED, _CLOSED, _FULL = Admission.ACCEPTED, Admission.CLOSED, Admission.FULL


class PoolLoad(msgspec.Struct, frozen=True):
    """A consistent snapshot of a pool: items running, items waiting, workers started."""

    running: int
    waiting: int
    workers: int


class HandlerPool:
    """Runs items on up to ``prefetch`` lazily started workers.

    The items are :class:`~arvo_concurrent.actors.work.Work` (the pool calls their
    ``run()`` and ``settle()``) unless ``execute`` and ``settle`` say how to run them.
    Every method is thread-safe and only ``join`` blocks on a handler: ``submit`` may
    start a worker thread, the rest at most take the pool's lock briefly.

    Args:
        topic: the topic this pool serves (for logs and stats).
        prefetch: the most items that run at once; a positive int.
        execute: runs one item on a worker thread (default: ``item.run()``).
        settle: called on the same thread once the pool no longer counts the item as
            running, so that whoever it wakes sees a pool that does not count it; its
            worker takes the next item, or goes idle, only after settle returned
            (default: ``item.settle()``).
        max_queued: the most items that may wait while all ``prefetch`` slots are
            taken (None: no bound).

    Neither step should raise; if one does (even with a ``BaseException``), the error
    is logged, the item is still settled, and the worker keeps serving.
    """

    def __init__(
        self,
        topic: str,
        prefetch: int,
        execute: Callable[[Any], object] = run_work,
        settle: Callable[[Any], object] = settle_work,
        max_queued: int | None = None,
    ) -> None:
        self.topic = topic
        self.prefetch = prefetch
        self.max_queued = max_queued
        self._execute = execute
        self._settle = settle
        self._lock = threading.Lock()
        self._enlisted = threading.Condition(self._lock)
        # The hot path (queueing an item, a busy worker taking the next one) takes no
        # lock: deque append/popleft and list append/pop are atomic under the GIL. A
        # lock taken there by the publisher and the workers on every hop convoys (a
        # thread granted it still waits for the GIL: two GIL hand-offs per hop;
        # benchmarks/NOTES.md). The lock guards the rare transitions: going idle,
        # waking, starting, closing; and _idle, _workers, _starting, _late, _stops.
        self._backlog: deque[Any] = deque()
        self._running: list[None] = []  # one entry per running item: a lock-free count
        self._idle: list[WorkerRef] = []
        self._workers: list[WorkerRef] = []
        self._starting = 0
        self._late: list[Any] = []  # queued after close emptied the backlog: see _retract
        self._closed = False
        self._stops: list[StopRequest] = []

    def submit(self, item: Any) -> Admission:
        """Queue ``item``, waking an idle worker or starting one if one is due.

        Returns:
            ACCEPTED; or CLOSED (the pool is closed) or FULL (``max_queued`` items
            already wait): the item was not taken. Only ACCEPTED is true.
        """
        if self._closed:
            return _CLOSED
        backlog = self._backlog
        if self.max_queued is None:
            backlog.append(item)
        else:
            # Under the lock so that concurrent submits cannot both take the last room.
            with self._lock:
                if self._queue_full():
                    return _FULL
                backlog.append(item)
        if self._closed:
            return self._retract(item)
        # Appended first, then read: a worker announces itself idle first, then reads the
        # backlog (in _wake), so one of the two sees the other and no item waits unseen.
        if self._idle or (
            len(self._workers) + self._starting < self.prefetch and len(backlog) > self._starting
        ):
            self._wake(None)
        return _ACCEPTED

    def _retract(self, item: Any) -> Admission:
        # close() ran while item was being queued. If it was queued before close emptied
        # the backlog, close returned it: ACCEPTED. Otherwise it is still here, or set
        # aside by another late submit: take it back (CLOSED); or a worker finishing its
        # item took it meanwhile, and runs it: ACCEPTED. ``is``: items need not be
        # hashable, and equal items are distinct submissions.
        with self._lock:
            late = self._late
            while self._backlog:
                late.append(self._backlog.popleft())
            for i, waiting in enumerate(late):
                if waiting is item:
                    del late[i]
                    return _CLOSED
        return _ACCEPTED

    def _wake(self, worker: WorkerRef | None) -> None:
        # The rare path, under the lock: ``worker`` (if any) goes idle, then idle workers
        # are handed waiting items, and a worker is started if one is due.
        with self._lock:
            if self._closed:
                return
            if worker is not None:
                self._idle.append(worker)
            self._hand_out()
            spawn = self._reserve_start()
        if spawn:
            self._start_worker()

    def _hand_out(self) -> None:
        # Caller holds the lock, the only guard of _idle; busy workers pop the backlog
        # without it, so an item seen here may be gone by the popleft.
        idle = self._idle
        while idle and self._backlog:
            worker = idle.pop()
            item = self._take_next()
            if item is _NOTHING:
                idle.append(worker)
                return
            if not self._dispatch(worker, item):
                self._running.pop()
                self._backlog.appendleft(item)

    def _take_next(self) -> Any:
        # The next waiting item, counted as running (before it leaves the backlog, so
        # that it never counts as neither), or _NOTHING: a busy worker took the last one.
        self._running.append(None)
        try:
            return self._backlog.popleft()
        except IndexError:
            self._running.pop()
            return _NOTHING

    def _dispatch(self, worker: WorkerRef, item: Any) -> bool:
        # Caller holds the lock. Telling under it orders the Dispatch before any stop a
        # close() sends (close takes the lock first), so Pykka never drops it unseen;
        # the tell cannot block, the inbox being an unbounded SimpleQueue.
        try:
            worker.tell(Dispatch(item))
        except pykka.ActorDeadError:
            # Stopped by someone else (the host's ActorRegistry.stop_all()): forget it,
            # so that the item goes to another worker or a new one.
            self._workers.remove(worker)
            return False
        return True

    def _queue_full(self) -> bool:
        # Caller holds the lock. Items bound for free slots (workers starting up) wait in
        # the backlog too; only those beyond every slot count against max_queued. A worker
        # counts an item as running before taking it from the backlog, so for that instant
        # it counts twice: a submit at the bound may be refused, none beyond it admitted.
        assert self.max_queued is not None
        beyond_slots = len(self._backlog) - (self.prefetch - len(self._running))
        return beyond_slots >= self.max_queued

    def _reserve_start(self) -> bool:
        # Caller holds the lock. A worker is due while the waiting items outnumber the
        # workers on their way, within prefetch (tested first: usually all are started).
        due = (
            len(self._workers) + self._starting < self.prefetch
            and len(self._backlog) > self._starting
        )
        if due:
            self._starting += 1
        return due

    def _start_worker(self) -> None:
        try:
            PoolWorker.start(self)
        except Exception:
            # Out of threads: the items stay queued for the workers that exist (or are
            # reported as dropped at close); the next submit tries again.
            logger.exception("Pool %r could not start a worker", self.topic)
            with self._lock:
                self._starting -= 1
                self._enlisted.notify_all()

    def enlist(self, worker: WorkerRef) -> None:
        """Register a started worker; it takes the first waiting item or goes idle.

        Called by the worker on its own thread as it starts. It starts the next worker
        first if one is due, so that a burst warms the pool with overlapping starts.
        """
        with self._lock:
            # Listed before the start is no longer counted, so that submit's unlocked
            # sum of the two never looks lower than it is.
            self._workers.append(worker)
            self._starting -= 1
            self._enlisted.notify_all()
            if self._closed:
                # Started just before close(): it stops itself, and join() waits for it.
                self._stops.append((worker, worker.stop(block=False)))
                return
        # Idle, then handed the first waiting item (a Dispatch to itself), if any.
        self._wake(worker)

    def serve(self, item: Any, worker: WorkerRef) -> None:
        """Run ``item`` and then every backlog item this worker can take; runs on ``worker``."""
        execute, settle, running = self._execute, self._settle, self._running
        while item is not _NOTHING:
            try:
                execute(item)
            except BaseException:
                # A BaseException too: escaping the worker's message, it would make Pykka
                # stop every actor in the process. The item is settled below either way.
                logger.exception(
                    "Pool %r: executing %r failed",
                    self.topic,
                    item,
                    extra=event_log_fields(getattr(item, "event", item), topic=self.topic),
                )
            running.pop()
            try:
                settle(item)
            except BaseException:
                logger.exception(
                    "Pool %r: settling %r failed",
                    self.topic,
                    item,
                    extra=event_log_fields(getattr(item, "event", item), topic=self.topic),
                )
            # Only once settle returned: a worker listed idle must be free to run the
            # next item at once, not busy in a callback that settle runs. The hot path:
            # popleft and the count are atomic under the GIL, and take no lock that
            # the publisher would contend for (see the module docstring).
            item = self._take_next() if self._backlog else _NOTHING
        self._wake(worker)

    def close(self) -> list[Any]:
        """Refuse new items, hand back the waiting ones, and ask every worker to stop.

        Running items finish first: a worker's stop queues behind the item it runs. A
        worker still starting stops as soon as it enlists. A ``submit`` racing this call
        is either refused (CLOSED), or accepted with its item handed back here or run.
        Idempotent: a second call returns nothing. Never blocks; :meth:`join` waits for the workers.

        Returns:
            The items that were waiting, in FIFO order.
        """
        with self._lock:
            if self._closed:
                return []
            # Set before the backlog is emptied: a submit that appends after that reads
            # it set, and takes its item back (_retract).
            self._closed = True
            dropped = []
            while self._backlog:
                # popleft, not a copy: a busy worker may take an item meanwhile.
                try:
                    dropped.append(self._backlog.popleft())
                except IndexError:
                    break
            self._idle.clear()
            self._stops = [(w, w.stop(block=False)) for w in self._workers]
            return dropped

    def join(self, deadline: float | None) -> int:
        """After :meth:`close`, wait until every worker has stopped, or ``deadline``.

        Blocks the caller (a monotonic ``deadline``; None: no limit). Called from one of
        the pool's own workers (a handler closing its broker), it does not wait for
        that worker, which can only stop once its handler returns.

        Returns:
            How many workers had not stopped (or not even started) by the deadline.
        """
        with self._lock:
            starts_done = self._enlisted.wait_for(lambda: self._starting == 0, remaining(deadline))
            unstarted = self._starting
            requests = list(self._stops)
        if not starts_done:
            logger.warning("Pool %r: %d worker start(s) still pending", self.topic, unstarted)
        me = current_worker()
        return unstarted + await_stopped([r for r in requests if r[0] is not me], deadline)

    def stopped(self) -> bool:
        """Whether the pool is closed and none of its workers is alive or starting."""
        with self._lock:
            return (
                self._closed and not self._starting and not any(w.is_alive() for w in self._workers)
            )

    def load(self) -> PoolLoad:
        """A snapshot of running and waiting items and started workers; never blocks.

        Exact while no item moves. Taken without the lock the hot path does not take,
        so an item a worker is taking at that instant may count as running and waiting.
        """
        return PoolLoad(len(self._running), len(self._backlog), len(self._workers))
