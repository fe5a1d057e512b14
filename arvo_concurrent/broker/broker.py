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
caller of ``unsubscribe``/``clear`` for dropped events, a thread of its own for the
events ``close`` drops, so that a slow ``on_error`` cannot hold ``close`` past its
deadline). ``on_error`` may publish; if it raises (even a ``BaseException``), that is
reported as :mod:`~arvo_concurrent.broker.reporting` describes and nothing else stops.
Without ``on_error``, the same reporter logs every failure and writes each kind of
error once to stderr.

Runaway lineages: every event published from outside the handlers starts a lineage,
and the events its handlers publish (transitively) count against ``max_hops``; the ones
past it are not routed but reported as :class:`HopLimitError`. A tracker that was
abandoned (a ``resolve`` that timed out) stops its lineage the same way: its new events
are not routed and its waiting ones are dropped when a worker reaches them, each
reported as an :class:`EventDroppedError` with reason ``"abandoned"``.

Hooks for ``create_concurrent_event_broker`` and ``resolve``:

* ``publish(event, trackers=[t])`` publishes ``event`` on behalf of
  :class:`~arvo_concurrent.broker.tracking.WorkTracker` ``t``: ``t`` counts it and
  every event its handlers publish through the ``publish`` they are given (a
  :class:`~arvo_concurrent.broker.delivery.LineagePublisher`, whose ``lineage`` names
  the trackers; ``publisher_for(lineage)`` makes one), ``t`` can
  capture the events of its lineage addressed to its ``capture_topic``, and ``t``
  records the errors reported for them when it was made to. See
  :mod:`arvo_concurrent.broker.tracking` for the counting rules.
* ``report(error, event, lineage)`` is how layers built on the broker (retries,
  middleware) report their failures, so that the lineage's trackers record them.
* ``closing`` is a read-only :class:`threading.Event` set when ``close()`` starts, so
  a retry backoff can wait on it and end early.

Transport: by default events travel inside this process; ``transport=`` moves them
through something shared instead (see :mod:`~arvo_concurrent.broker.transport`), and the
pools are then fed by it.

Lifecycle: ``close(timeout)`` stops intake (``publish`` and ``subscribe`` then raise
:class:`~arvo_concurrent.errors.ClosedError`), drops every waiting event (its lineage
records an :class:`~arvo_concurrent.broker.errors.EventDroppedError` at once, and
``on_error`` hears of it from a reporting thread), lets the running handlers finish
within the deadline and stops every thread it started, within the one deadline. A
handler still running at the deadline is logged and left to end on its daemon
thread. Call ``wait_for_idle()`` before ``close()`` to finish all queued work first.
``close()`` also works after the host stopped every Pykka actor
(``ActorRegistry.stop_all()``): the broker knows its pools without asking the router.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

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
from arvo_concurrent.actors.pool import Admission, HandlerPool
from arvo_concurrent.actors.router import InstallOutcome, Router, RouteTable
from arvo_concurrent.actors.worker import current_host
from arvo_concurrent.broker.delivery import Delivery, Handler, LineagePublisher, Subscription
from arvo_concurrent.broker.errors import (
    BrokerErrorHandler,
    DropReason,
    ErrorRecord,
    EventDroppedError,
    HopLimitError,
    IdleTimeoutError,
    InvalidEventError,
    QueueFullError,
    RoutingError,
    SubscriptionConflictError,
    SubscriptionError,
    WaitInHandlerError,
)
from arvo_concurrent.broker.limits import check_max_queued, check_prefetch
from arvo_concurrent.broker.reporting import DefaultReporter, delivery_thread
from arvo_concurrent.broker.stats import TopicStats
from arvo_concurrent.broker.tracking import Lineage, WorkTracker, acquire, release
from arvo_concurrent.broker.transport import Transport
from arvo_concurrent.errors import ArgumentError, ArgumentTypeError, ClosedError

if TYPE_CHECKING:
    from arvo_concurrent.observability.telemetry import Telemetry

__all__ = ["ConcurrentEventBroker"]

logger = logging.getLogger(__name__)

# The router only edits a dict, so a control call that takes longer means a stalled process.
_CONTROL_TIMEOUT_S = 10.0

DEFAULT_MAX_HOPS = 10_000
"""The events one lineage may publish before the next ones are refused (``max_hops``)."""


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
            dropped by ``unsubscribe``/``clear``/``close`` or by an abandoned lineage
            (:class:`EventDroppedError`), an event past the hop limit
            (:class:`HopLimitError`) and a capture callback that raised. Default: an
            ERROR record on the ``arvo_concurrent.broker`` logger every time, and one
            stderr line per kind of error (see :mod:`~arvo_concurrent.broker.reporting`).
        max_hops: the most events one lineage may publish (a positive int); the ones
            past it are reported as :class:`HopLimitError` instead of being routed.
        telemetry: an :class:`~arvo_concurrent.observability.Telemetry` that traces
            every publish and handler run and keeps the metrics. None, or one whose
            providers record nothing (no OpenTelemetry SDK installed when the broker is
            made): the hot path pays one ``None`` check per hop, and :attr:`telemetry`
            is None.
        transport: where events travel between ``publish`` and the pools (see
            :mod:`~arvo_concurrent.broker.transport`); None (default): in this process.
    """

    def __init__(
        self,
        on_error: BrokerErrorHandler | None = None,
        *,
        max_hops: int = DEFAULT_MAX_HOPS,
        telemetry: Telemetry | None = None,
        transport: Transport | None = None,
    ):
        if on_error is not None and not callable(on_error):
            raise ArgumentTypeError(
                f"on_error must be callable or None, got {on_error!r}", "on_error", on_error
            )
        if isinstance(max_hops, bool) or not isinstance(max_hops, int) or max_hops < 1:
            raise ArgumentError(
                f"max_hops must be a positive int, got {max_hops!r}", "max_hops", max_hops
            )
        self._on_error = on_error
        self._fallback = DefaultReporter()
        self.max_hops = max_hops
        self._tracker = WorkTracker()
        self._root: Lineage = (self._tracker,)
        self._routes = RouteTable()
        self._transport = transport
        if transport is not None:
            transport.attach(self)  # before any thread of ours starts: it may refuse
        self._router = Router.start(self._routes)
        self._closing = ClosingSignal()
        self._closed = False
        self._close_done = threading.Event()
        self._close_reporter: threading.Thread | None = None
        self._lock = threading.Lock()
        # Every pool whose workers may still run: subscribed ones, and retired ones until
        # their workers stopped, so that close() waits for those too.
        self._pools: set[HandlerPool] = set()
        # Kept only when it records something: with no SDK installed, nothing per event.
        self.telemetry = telemetry if telemetry is not None and telemetry.bind(self) else None

    @property
    def tracker(self) -> WorkTracker:
        """The tracker every event run in this process counts in (``wait_for_idle``)."""
        return self._tracker

    @property
    def transport(self) -> Transport | None:
        """The transport the events travel by (None: in this process)."""
        return self._transport

    # -- subscriptions -------------------------------------------------------------

    def subscribe(
        self, fn: Handler, *, topic: str, prefetch: int = 1, max_queued: int | None = None
    ) -> Callable[[], None]:
        """Run ``fn(event, publish)`` for every event whose ``to`` is ``topic``.

        Args:
            fn: the handler; it runs on a pool worker thread, at most ``prefetch`` at
                once. An exception it raises goes to ``on_error`` with the event; a
                ``BaseException`` that is not an ``Exception`` (``CancelledError``,
                ``SystemExit``...) goes there as a :class:`HandlerAbortedError`.
            topic: the topic (an event's ``to``) to serve.
            prefetch: the most events of this topic that run at once (a positive int).
            max_queued: the most events of this topic that may wait while ``prefetch``
                run (an int >= 0; None: no bound). Past it, ``publish`` raises
                :class:`QueueFullError` and queues nothing.

        Returns:
            ``unsubscribe()``: removes this subscription (idempotent); waiting events
            are reported to ``on_error`` as dropped, running ones finish.

        Raises:
            SubscriptionConflictError: ``topic`` already has a handler.
            SubscriptionError: ``fn``, ``topic``, ``prefetch`` or ``max_queued`` is invalid.
            ClosedError: the broker is closed.
        """
        _check_subscription(fn, topic, prefetch, max_queued)
        if self._transport is not None:
            fn = self._transport.wrap(fn)
        pool = Subscription(self, fn, topic, prefetch, max_queued)
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
        if self._transport is not None:
            self._transport.subscribed(topic, pool)
        return functools.partial(self._unsubscribe, topic, pool)

    def _unsubscribe(self, topic: str, pool: HandlerPool) -> None:
        try:
            removed = self._ask(Remove(topic, pool))
        except ClosedError:
            return  # close() has already retired every pool
        if removed:
            if self._transport is not None:
                self._transport.unsubscribed(topic)
            self._retire(pool, "unsubscribed")

    def clear(self) -> None:
        """Remove every subscription; waiting events are reported as dropped. No-op once closed."""
        try:
            pools: list[HandlerPool] = self._ask(RemoveAll())
        except ClosedError:
            return
        for pool in pools:
            if self._transport is not None:
                self._transport.unsubscribed(pool.topic)
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
            QueueFullError: the handler of ``event.to`` has ``max_queued`` events
                waiting; nothing was queued.
            ClosedError: the broker is closed.

        A routing failure does not raise: it is reported to ``on_error`` (synchronously,
        in this thread) as a :class:`RoutingError`. The event starts a new lineage, with
        its own count of hops.
        """
        if not trackers:
            self._route(event, self._root, None)
            return
        for tracker in trackers:
            if not isinstance(tracker, WorkTracker):
                raise ArgumentTypeError(
                    f"trackers must be WorkTracker instances, got {tracker!r}", "trackers", tracker
                )
        self._route(event, (self._tracker, *trackers), None)

    def publisher_for(self, lineage: Lineage) -> LineagePublisher:
        """The ``publish`` a handler gets for an event of ``lineage`` (a fresh hop count).

        The broker makes one when a lineage's first event runs; its later events share
        it. A transport that runs events in lineages of its own may give them one.
        Thread-safe; never blocks.

        Args:
            lineage: the trackers the published events count in (a tuple), this
                broker's :attr:`tracker` among them, so that ``wait_for_idle`` sees them.

        Raises:
            ArgumentError: ``lineage`` is not a tuple holding this broker's tracker.
        """
        if not isinstance(lineage, tuple) or self._tracker not in lineage:
            raise ArgumentError(
                f"lineage must be a tuple of WorkTrackers holding the broker's tracker, "
                f"got {lineage!r}",
                "lineage",
                lineage,
            )
        return LineagePublisher(self, lineage, itertools.count(1))

    def publish_hop(self, event: Any, publisher: LineagePublisher) -> None:
        """Publish ``event`` as the next hop of ``publisher``'s lineage: calling it does this.

        The event counts in ``publisher.lineage`` and against ``max_hops`` (past it, it
        is reported as a :class:`HopLimitError`, not routed). Runs in this thread;
        thread-safe; raises as :meth:`publish` does.
        """
        if self.telemetry is None:
            self._route_now(event, publisher.lineage, publisher)
        else:
            self._route(event, publisher.lineage, publisher)

    def _route(self, event: Any, lineage: Lineage, publisher: LineagePublisher | None) -> None:
        if self.telemetry is None:
            self._route_now(event, lineage, publisher)
        else:  # a PRODUCER span around the routing; the event goes stamped with it
            self.telemetry.publish(
                event,
                str(getattr(event, "to", None)),
                lambda stamped: self._route_now(stamped, lineage, publisher),
            )

    def _route_now(self, event: Any, lineage: Lineage, publisher: LineagePublisher | None) -> None:
        # publisher: the lineage's, None for its first event (hop 0, nothing to count).
        if self._closed:
            raise ClosedError("broker")
        to = getattr(event, "to", None)
        if not to or not isinstance(to, str):
            raise InvalidEventError(event)
        if lineage is not self._root and self._diverted(event, to, lineage):
            return
        if self._transport is not None:
            self._transport.send(event, lineage)
            return
        if publisher is not None and next(publisher.hops) >= self.max_hops:
            self.report(HopLimitError(event, self.max_hops), event, lineage=lineage)
            return
        # The broker installs only Subscriptions; annotated rather than cast, at no cost.
        pool: Subscription | None = self._routes.pools.get(to)  # type: ignore[assignment]
        if pool is None:
            self.report(RoutingError(event, to, self.topics), event, lineage=lineage)
            return
        acquire(lineage)
        queued_at = 0.0 if self.telemetry is None else time.perf_counter()
        admission = pool.submit(Delivery(event, lineage, publisher, pool, queued_at))
        if admission is _ACCEPTED:
            return
        if admission is Admission.FULL:
            release(lineage)
            raise QueueFullError(event, to, pool.max_queued or 0)
        # The pool was removed after this thread read the table: the topic is gone.
        self.report(RoutingError(event, to, self.topics), event, lineage=lineage)
        release(lineage)

    def _diverted(self, event: Any, to: str, lineage: Lineage) -> bool:
        # Whether a tracker of the lineage takes the event instead of routing it: it
        # captures ``to``, or it was abandoned. The root tracker (first) does neither.
        for tracker in lineage:
            if tracker.capture_topic == to:
                try:
                    tracker.capture(event)
                except Exception as error:  # noqa: BLE001 - user code: reported, never fatal
                    self.report(error, event, lineage=lineage)
                return True
            if tracker.abandoned:
                self.report(EventDroppedError(event, to, "abandoned"), event, lineage=lineage)
                return True
        return False

    def report(self, error: Exception, event: Any, lineage: Lineage = ()) -> None:
        """Record ``error`` on ``lineage`` and hand it with its ``event`` to ``on_error``.

        What the broker does for every failure; layers built on it (retries,
        middleware) call it for theirs, with the lineage of the event they handle (a
        handler's ``publish`` knows it). Every tracker of ``lineage`` that records
        errors keeps ``(error, event)`` first, so a ``resolve`` of that lineage can say
        why it got nothing. Runs in this thread; thread-safe; never raises, even when
        ``on_error`` raises a ``BaseException`` (that is reported instead).
        """
        for tracker in lineage:
            tracker.record_error(error, event)
        self._deliver(error, event)

    def _deliver(self, error: Exception, event: Any) -> None:
        # Every reported failure passes here once, whichever path reported it.
        if self.telemetry is not None and isinstance(error, EventDroppedError):
            self.telemetry.dropped(error.topic, error.reason)
        if self._on_error is None:
            self._fallback(error, event)
            return
        try:
            self._on_error(error, event)
        except BaseException as failure:  # noqa: BLE001 - reported; the broker's work goes on
            self._fallback.callback_failed(failure, error, event)

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
        mine = self._calling_pool()
        if mine is not None:
            raise WaitInHandlerError(mine.topic)
        if not self._tracker.wait_idle(timeout):
            raise IdleTimeoutError(timeout or 0.0, self._tracker.pending)

    def check_blocking_resolve(self) -> None:
        """Refuse a blocking ``resolve`` from a handler of this broker that has no free slot.

        Such a handler holds its pool's last slot while it waits, so an event of the
        resolved lineage routed back to it would wait for the very worker that waits
        for it. A handler with a free slot (prefetch above its running events) may
        resolve. Never blocks.

        Raises:
            WaitInHandlerError: called from such a handler (``operation="resolve"``).
        """
        mine = self._calling_pool()
        if mine is not None and mine.load().running >= mine.prefetch:
            raise WaitInHandlerError(mine.topic, "resolve")

    def _calling_pool(self) -> HandlerPool | None:
        # The pool of this broker whose worker is calling, if any.
        host = current_host()
        if host is None:
            return None
        with self._lock:
            return next((pool for pool in self._pools if pool is host), None)

    @property
    def closing(self) -> ClosingSignal:
        """Set when ``close()`` starts; read-only. Wait on it to cut a backoff short."""
        return self._closing

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop intake, drop waiting events, let running handlers finish, stop all threads.

        Idempotent. Blocks until every thread the broker started has ended, or until
        ``timeout`` seconds (None: no limit), one deadline for every wait; stragglers
        are logged and end on their own (daemon threads). The dropped events count as
        done at once (a ``resolve`` waiting for them ends); their ``on_error`` calls run
        on a thread of their own, waited for within the same deadline. A second
        ``close()`` while the first runs waits for the first to end (within its own
        ``timeout``). Callable from a handler or from ``on_error``: it then does not wait
        for that handler's own worker, nor for a ``close()`` already running.
        """
        check_timeout(timeout)
        deadline = deadline_after(timeout)
        with self._lock:
            first = not self._closed
            self._closed = True
            pools = list(self._pools)
        if not first:
            # A handler, or an on_error on the close's reporting thread, would be waiting
            # for a close that waits for it.
            inside = threading.current_thread() is self._close_reporter
            if not inside and self._calling_pool() is None:
                self._close_done.wait(remaining(deadline))
            return
        try:
            self._close(pools, deadline)
        finally:
            self._close_done.set()

    def _close(self, pools: list[HandlerPool], deadline: float | None) -> None:
        self._closing.trip()
        if self._transport is not None:
            self._transport.stop()
        self._seal(deadline)
        router_stop: StopRequest = (self._router, self._router.stop(block=False))
        reports: list[ErrorRecord] = []
        for pool in pools:
            reports += self._drop_waiting(pool, "closed")  # none for pools retired already
        reporter = self._close_reporter = delivery_thread(reports, self._deliver)
        if reporter is not None:
            reporter.start()
        for pool in pools:
            pool.join(deadline)
        await_stopped([router_stop], deadline)
        if self._transport is not None:
            self._transport.close(deadline)
        if reporter is not None:
            reporter.join(remaining(deadline))
            if reporter.is_alive():
                logger.warning("%s: on_error still running at the close deadline; left", self)

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
        for error, event in self._drop_waiting(pool, reason):
            self._deliver(error, event)

    def _drop_waiting(self, pool: HandlerPool, reason: DropReason) -> list[ErrorRecord]:
        # Closes the pool and releases its waiting events, each recorded on its lineage
        # first; the caller hands the returned reports to on_error.
        dropped = pool.close()
        with self._lock:
            self._pools = {p for p in self._pools if not p.stopped()}
        reports: list[ErrorRecord] = []
        for item in dropped:
            if self._transport is not None and self._transport.take_back(item):
                release(item.lineage)
                continue
            error = EventDroppedError(item.event, pool.topic, reason)
            for tracker in item.lineage:
                tracker.record_error(error, item.event)
            reports.append((error, item.event))
            release(item.lineage)
        return reports

    def _ask(self, message: object) -> Any:
        try:
            return self._router.ask(message, block=True, timeout=_CONTROL_TIMEOUT_S)
        except pykka.ActorDeadError:
            raise ClosedError("broker") from None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ConcurrentEventBroker {state} topics={self.topics}>"


_ACCEPTED = Admission.ACCEPTED


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


def _check_subscription(fn: object, topic: object, prefetch: object, max_queued: object) -> None:
    if not isinstance(topic, str) or not topic:
        raise SubscriptionError(
            f"topic must be a non-empty string, got {topic!r}", topic, "topic", topic
        )
    if not callable(fn):
        raise SubscriptionError(
            f"The handler of topic '{topic}' must be callable, got {fn!r}", topic, "fn", fn
        )
    check_prefetch(prefetch, topic)
    check_max_queued(max_queued, topic)
