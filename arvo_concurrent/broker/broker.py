"""``ConcurrentEventBroker``: routes events by ``to`` to per-topic handler pools.

Each ``subscribe(fn, topic=..., prefetch=n)`` gets a
:class:`~arvo_concurrent.actors.pool.HandlerPool` of up to ``n`` Pykka worker actors,
started lazily; ``fn(event, publish)`` runs on them, at most ``n`` at once, never
behind a slow event while a worker is idle, the rest waiting in FIFO order. The
:class:`~arvo_concurrent.actors.router.Router` actor owns the topic table; routing
itself happens in the publisher's thread against the router's latest table, so one
hop costs at most one thread hand-off (and none when the target pool is busy: a
worker that finishes takes the next waiting event itself).

Where user code runs: ``fn`` on a pool worker; ``on_error`` in the thread that met
the problem (the publisher for routing failures, the worker for handler errors, the
caller of ``unsubscribe``/``clear``/``close`` for dropped events). ``on_error`` may
publish; if it raises, the error is logged and nothing else stops.

Hooks for ``create_concurrent_event_broker`` and ``resolve``:

* ``publish(event, trackers=[t])`` publishes ``event`` on behalf of
  :class:`~arvo_concurrent.broker.tracking.WorkTracker` ``t``: ``t`` counts it and
  every event its handlers publish through the ``publish`` they are given (a
  :class:`LineagePublisher`, whose ``lineage`` names the trackers), and ``t`` can
  capture the events of its lineage addressed to its ``capture_topic``. See
  :mod:`arvo_concurrent.broker.tracking` for the counting rules.
* ``closing`` is a read-only :class:`threading.Event` set when ``close()`` starts, so
  a retry backoff can wait on it and end early.

Lifecycle: ``close(timeout)`` stops intake (``publish`` and ``subscribe`` then raise
:class:`~arvo_concurrent.errors.ClosedError`), reports every waiting event to
``on_error`` as :class:`~arvo_concurrent.broker.errors.EventDroppedError`, lets the
running handlers finish within the deadline and stops every thread it started. A
handler still running at the deadline is logged and left to end on its daemon
thread. Call ``wait_for_idle()`` before ``close()`` to finish all queued work first.
``close()`` also works after the host stopped every Pykka actor
(``ActorRegistry.stop_all()``): the broker knows its pools without asking the router.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec
import pykka

from arvo_concurrent.actors.lifecycle import (
    Closeable,
    ClosingSignal,
    StopRequest,
    await_stopped,
    check_timeout,
    deadline_after,
    remaining,
)
from arvo_concurrent.actors.messages import Install, Remove, RemoveAll, Seal
from arvo_concurrent.actors.pool import HandlerPool
from arvo_concurrent.actors.router import InstallOutcome, Router, RouteTable
from arvo_concurrent.actors.worker import current_host
from arvo_concurrent.broker.errors import (
    DropReason,
    EventDroppedError,
    HandlerAbortedError,
    IdleTimeoutError,
    InvalidEventError,
    RoutingError,
    SubscriptionConflictError,
    SubscriptionError,
    WaitInHandlerError,
)
from arvo_concurrent.broker.stats import TopicStats
from arvo_concurrent.broker.tracking import Lineage, WorkTracker, acquire, release
from arvo_concurrent.errors import ClosedError

__all__ = ["ConcurrentEventBroker", "Delivery", "LineagePublisher", "OnError", "Publish"]

logger = logging.getLogger(__name__)

# The router only edits a dict, so a control call that takes longer means a stalled process.
_CONTROL_TIMEOUT_S = 10.0

OnError = Callable[[Exception, Any], object]
"""``on_error(error, event)``: told about every event that failed or could not run."""


class Publish(Protocol):
    """The ``publish`` a handler receives: publishes in the lineage of the handled event."""

    def __call__(self, event: Any) -> None:
        """Publish ``event``; raises as :meth:`ConcurrentEventBroker.publish` does."""
        ...


Handler = Callable[[Any, Publish], object]
"""``fn(event, publish)``: a subscription's handler; its return value is ignored."""


class Delivery(msgspec.Struct, frozen=True):
    """An event on its way to a handler, with the trackers it counts in."""

    event: Any
    lineage: Lineage


class LineagePublisher:
    """Publishes events in a fixed lineage: the ``publish`` a handler receives.

    Thread-safe; calling it behaves as :meth:`ConcurrentEventBroker.publish` (same
    errors) with the trackers of :attr:`lineage`.
    """

    __slots__ = ("_broker", "lineage")

    def __init__(self, broker: ConcurrentEventBroker, lineage: Lineage) -> None:
        self._broker = broker
        self.lineage = lineage
        """The trackers every event published here counts in, the broker's own first."""

    def __call__(self, event: Any) -> None:
        """Publish ``event`` in :attr:`lineage`."""
        self._broker._route(event, self.lineage)


class ConcurrentEventBroker(Closeable):
    """Routes each published event to the handler subscribed to its ``to``.

    Events are duck-typed: only ``event.to`` is read. Every method is thread-safe and
    may be called from handlers. ``publish`` never blocks on a handler; ``subscribe``,
    ``unsubscribe`` and ``clear`` wait for the router (microseconds); only
    ``wait_for_idle`` and ``close`` block for long, each within its ``timeout``.
    ``wait_for_idle`` refuses to run in a handler of this broker, whose own event keeps
    the broker busy (:class:`WaitInHandlerError`).

    Args:
        on_error: ``on_error(error, event)``, called for a handler that raised (with
            its exception, or a :class:`HandlerAbortedError` wrapping a
            ``BaseException``), a routing failure (:class:`RoutingError`), a waiting event
            dropped by ``unsubscribe``/``clear``/``close`` (:class:`EventDroppedError`)
            and a capture callback that raised. Default: log at ERROR level.
    """

    def __init__(self, on_error: OnError | None = None):
        if on_error is not None and not callable(on_error):
            raise TypeError(f"on_error must be callable or None, got {on_error!r}")
        self._on_error = on_error
        self._tracker = WorkTracker()
        self._root: Lineage = (self._tracker,)
        self._root_publish = LineagePublisher(self, self._root)
        self._routes = RouteTable()
        self._router = Router.start(self._routes)
        self._closing = ClosingSignal()
        self._closed = False
        self._lock = threading.Lock()
        # Every pool whose workers may still run: subscribed ones, and retired ones until
        # their workers stopped, so that close() waits for those too.
        self._pools: set[HandlerPool] = set()

    # -- subscriptions -------------------------------------------------------------

    def subscribe(self, fn: Handler, *, topic: str, prefetch: int = 1) -> Callable[[], None]:
        """Run ``fn(event, publish)`` for every event whose ``to`` is ``topic``.

        Args:
            fn: the handler; it runs on a pool worker thread, at most ``prefetch`` at
                once. An exception it raises goes to ``on_error`` with the event; a
                ``BaseException`` that is not an ``Exception`` (``CancelledError``,
                ``SystemExit``...) goes there as a :class:`HandlerAbortedError`.
            topic: the topic (an event's ``to``) to serve.
            prefetch: the most events of this topic that run at once (a positive int).

        Returns:
            ``unsubscribe()``: removes this subscription (idempotent); waiting events
            are reported to ``on_error`` as dropped, running ones finish.

        Raises:
            SubscriptionConflictError: ``topic`` already has a handler.
            SubscriptionError: ``fn``, ``topic`` or ``prefetch`` is invalid.
            ClosedError: the broker is closed.
        """
        _check_subscription(fn, topic, prefetch)
        pool = HandlerPool(topic, prefetch, functools.partial(self._run, fn), _settle)
        with self._lock:
            if self._closed:
                raise ClosedError("broker")
            self._pools.add(pool)
        try:
            outcome = self._ask(Install(topic, pool))
        except ClosedError:
            outcome = InstallOutcome.SEALED  # the router is gone: nothing is installed
        if outcome is not InstallOutcome.INSTALLED:
            with self._lock:
                self._pools.discard(pool)  # never routable, so it never started a worker
            if outcome is InstallOutcome.CONFLICT:
                raise SubscriptionConflictError(topic)
            raise ClosedError("broker")
        return functools.partial(self._unsubscribe, topic, pool)

    def _unsubscribe(self, topic: str, pool: HandlerPool) -> None:
        try:
            removed = self._ask(Remove(topic, pool))
        except ClosedError:
            return  # close() has already retired every pool
        if removed:
            self._retire(pool, "unsubscribed")

    def clear(self) -> None:
        """Remove every subscription; waiting events are reported as dropped. No-op once closed."""
        try:
            pools: list[HandlerPool] = self._ask(RemoveAll())
        except ClosedError:
            return
        for pool in pools:
            self._retire(pool, "cleared")

    @property
    def topics(self) -> list[str]:
        """The subscribed topics."""
        return list(self._routes.pools)

    def get_stats(self, topic: str) -> TopicStats | None:
        """A snapshot of ``topic``'s subscription, or None if nothing subscribes to it."""
        pool = self._routes.pools.get(topic)
        return None if pool is None else _stats(pool)

    @property
    def stats(self) -> list[TopicStats]:
        """A snapshot of every subscription."""
        return [_stats(pool) for pool in self._routes.pools.values()]

    # -- publishing ----------------------------------------------------------------

    def publish(self, event: Any, *, trackers: Sequence[WorkTracker] = ()) -> None:
        """Route ``event`` to the handler of ``event.to``; returns without waiting for it.

        Args:
            event: any object with a string ``to``.
            trackers: extra trackers that count this event and everything its handlers
                publish (its lineage), and may capture events of that lineage.

        Raises:
            InvalidEventError: ``event.to`` is missing or not a string (a ValueError).
            ClosedError: the broker is closed.

        A routing failure does not raise: it is reported to ``on_error`` (synchronously,
        in this thread) as a :class:`RoutingError`.
        """
        if not trackers:
            self._route(event, self._root)
            return
        for tracker in trackers:
            if not isinstance(tracker, WorkTracker):
                raise TypeError(f"trackers must be WorkTracker instances, got {tracker!r}")
        self._route(event, (self._tracker, *trackers))

    def _route(self, event: Any, lineage: Lineage) -> None:
        if self._closed:
            raise ClosedError("broker")
        to = getattr(event, "to", None)
        if not to or not isinstance(to, str):
            raise InvalidEventError(event)
        for tracker in lineage:
            if tracker.capture_topic == to:
                self._capture(tracker, event)
                return
        pool = self._routes.pools.get(to)
        if pool is None:
            self.report(RoutingError(event, to, self.topics), event)
            return
        acquire(lineage)
        if not pool.submit(Delivery(event, lineage)):
            # The pool was removed after this thread read the table: the topic is gone.
            self.report(RoutingError(event, to, self.topics), event)
            release(lineage)

    def _capture(self, tracker: WorkTracker, event: Any) -> None:
        try:
            tracker.capture(event)
        except Exception as error:  # noqa: BLE001 - user code: reported, never fatal
            self.report(error, event)

    def _run(self, fn: Handler, item: Delivery) -> None:
        lineage = item.lineage
        publish = self._root_publish if lineage is self._root else LineagePublisher(self, lineage)
        try:
            fn(item.event, publish)
        except Exception as error:  # noqa: BLE001 - user code: reported, never fatal
            self.report(error, item.event)
        except BaseException as error:  # noqa: BLE001 - escaping, it would stop every actor
            self.report(HandlerAbortedError(error, item.event), item.event)

    def report(self, error: Exception, event: Any) -> None:
        """Hand ``error`` and its ``event`` to ``on_error`` (or the log), in this thread.

        What the broker does for every failure; layers built on it (retries,
        middleware) call it for theirs. Thread-safe; never raises: an ``on_error``
        that raises is logged.
        """
        if self._on_error is None:
            logger.error("Event %r failed: %s", event, error, exc_info=error)
            return
        try:
            self._on_error(error, event)
        except Exception:
            logger.exception("on_error raised while reporting %r for event %r", error, event)

    # -- idleness and lifecycle ----------------------------------------------------

    def wait_for_idle(self, timeout: float | None = None) -> None:
        """Block until no event is queued or running, or ``timeout`` seconds pass.

        Woken by the last event's completion (no polling). ``timeout=None`` waits
        without limit; ``0`` only checks.

        Raises:
            IdleTimeoutError: the timeout passed first (a TimeoutError; "timed out").
            WaitInHandlerError: called from a handler of this broker, whose own event
                keeps the broker busy: the wait could never end.
        """
        check_timeout(timeout)
        host = current_host()
        if host is not None:
            with self._lock:
                mine = next((pool for pool in self._pools if pool is host), None)
            if mine is not None:
                raise WaitInHandlerError(mine.topic)
        if not self._tracker.wait_idle(timeout):
            raise IdleTimeoutError(timeout or 0.0, self._tracker.pending)

    @property
    def closing(self) -> ClosingSignal:
        """Set when ``close()`` starts; read-only. Wait on it to cut a backoff short."""
        return self._closing

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop intake, drop waiting events, let running handlers finish, stop all threads.

        Idempotent. Blocks until every thread the broker started has ended, or until
        ``timeout`` seconds (None: no limit), one deadline for every wait; stragglers
        are logged and end on their own (daemon threads). Callable from a handler: it
        then does not wait for that handler's own worker.
        """
        check_timeout(timeout)
        deadline = deadline_after(timeout)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pools = list(self._pools)
        self._closing._trip()
        self._seal(deadline)
        router_stop: StopRequest = (self._router, self._router.stop(block=False))
        for pool in pools:
            self._retire(pool, "closed")  # a no-op for the pools retired already
        for pool in pools:
            pool.join(deadline)
        await_stopped([router_stop], deadline)

    def _seal(self, deadline: float | None) -> None:
        # Makes the router refuse subscriptions racing this close, and empty the table.
        # Which pools to retire the broker knows itself, so a router that is gone (the
        # host called ActorRegistry.stop_all()) or late changes nothing else.
        try:
            self._router.ask(Seal(), block=True, timeout=remaining(deadline))
        except pykka.ActorDeadError:
            self._routes.clear()
        except pykka.Timeout:
            logger.warning("%s: the router did not seal before the close deadline", self)

    def _retire(self, pool: HandlerPool, reason: DropReason) -> None:
        dropped = pool.close()
        with self._lock:
            self._pools = {p for p in self._pools if not p.stopped()}
        for item in dropped:
            self.report(EventDroppedError(item.event, pool.topic, reason), item.event)
            release(item.lineage)

    def _ask(self, message: object) -> Any:
        try:
            return self._router.ask(message, block=True, timeout=_CONTROL_TIMEOUT_S)
        except pykka.ActorDeadError:
            raise ClosedError("broker") from None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ConcurrentEventBroker {state} topics={self.topics}>"


def _settle(item: Delivery) -> None:
    # Runs once the pool no longer counts the item, so an idle broker has idle pools.
    release(item.lineage)


def _stats(pool: HandlerPool) -> TopicStats:
    load = pool.load()
    return TopicStats(
        topic=pool.topic,
        prefetch=pool.prefetch,
        running=load.running,
        waiting=load.waiting,
        in_flight=load.running + load.waiting,
        workers=load.workers,
    )


def _check_subscription(fn: object, topic: object, prefetch: object) -> None:
    if not isinstance(topic, str) or not topic:
        raise SubscriptionError(f"topic must be a non-empty string, got {topic!r}", topic)
    if not callable(fn):
        raise SubscriptionError(
            f"The handler of topic '{topic}' must be callable, got {fn!r}", topic
        )
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
        raise SubscriptionError(
            f"prefetch must be a positive int, got {prefetch!r} (topic '{topic}')", topic
        )
