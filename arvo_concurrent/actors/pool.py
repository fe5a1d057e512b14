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
``submit`` runs in the publisher's thread and either tells an idle worker (one hand-off)
or appends to the backlog (none); a worker that finishes pops the next backlog item
itself instead of asking anyone for it. All state sits behind one short lock.

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
    start a worker thread, the rest only take the pool's lock.

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
        self._backlog: deque[Any] = deque()
        self._idle: list[WorkerRef] = []
        self._workers: list[WorkerRef] = []
        self._starting = 0
        self._running = 0
        self._closed = False
        self._stops: list[StopRequest] = []

    def submit(self, item: Any) -> Admission:
        """Run ``item`` now on an idle worker, or queue it (starting a worker if one is due).

        Returns:
            ACCEPTED; or CLOSED (the pool is closed) or FULL (``max_queued`` items
            already wait): the item was not taken. Only ACCEPTED is true.
        """
        with self._lock:
            if self._closed:
                return _CLOSED
            while self._idle:
                worker = self._idle.pop()
                if self._dispatch(worker, item):
                    self._running += 1
                    return _ACCEPTED
            if self.max_queued is not None and self._queue_full():
                return _FULL
            self._backlog.append(item)
            spawn = self._reserve_start()
        if spawn:
            self._start_worker()
        return _ACCEPTED

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
        # the backlog too; only those beyond every slot count against max_queued.
        assert self.max_queued is not None
        beyond_slots = len(self._backlog) - (self.prefetch - self._running)
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
            self._starting -= 1
            self._workers.append(worker)
            self._enlisted.notify_all()
            if self._closed:
                # Started just before close(): it stops itself, and join() waits for it.
                self._stops.append((worker, worker.stop(block=False)))
                return
            item = self._take(worker)
            if item is not _NOTHING:
                # Told under the lock, as in submit; the worker is alive: it runs this.
                worker.tell(Dispatch(item))
            spawn = self._reserve_start()
        if spawn:
            self._start_worker()

    def serve(self, item: Any, worker: WorkerRef) -> None:
        """Run ``item`` and then every backlog item this worker can take; runs on ``worker``."""
        execute, settle, lock = self._execute, self._settle, self._lock
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
            with lock:
                self._running -= 1
            try:
                settle(item)
            except BaseException:
                logger.exception(
                    "Pool %r: settling %r failed",
                    self.topic,
                    item,
                    extra=event_log_fields(getattr(item, "event", item), topic=self.topic),
                )
            with lock:
                # Only once settle returned: a worker listed idle must be free to run the
                # next item at once, not busy in a callback that settle runs.
                item = self._take(worker)

    def _take(self, worker: WorkerRef) -> Any:
        # Caller holds the lock: the next waiting item for ``worker``, else it goes idle.
        if self._backlog:
            self._running += 1
            return self._backlog.popleft()
        if not self._closed:
            self._idle.append(worker)
        return _NOTHING

    def close(self) -> list[Any]:
        """Refuse new items, hand back the waiting ones, and ask every worker to stop.

        Running items finish first: a worker's stop queues behind the item it runs. A
        worker still starting stops as soon as it enlists. Idempotent: a second call
        returns nothing. Never blocks; :meth:`join` waits for the workers.

        Returns:
            The items that were waiting, in FIFO order.
        """
        with self._lock:
            if self._closed:
                return []
            self._closed = True
            dropped = list(self._backlog)
            self._backlog.clear()
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
        """A consistent snapshot of running and waiting items and started workers."""
        with self._lock:
            return PoolLoad(self._running, len(self._backlog), len(self._workers))
