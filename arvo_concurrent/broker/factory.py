"""``create_concurrent_event_broker``: a broker wired with Arvo handlers, and ``resolve``.

Each handler becomes a subscription at its ``source`` whose events run through a
:class:`~arvo_concurrent.broker.pipeline.HandlerPipeline` (middleware, retries,
domained events). ``resolve(event)`` publishes one event in a fresh
:class:`~arvo_concurrent.broker.tracking.WorkTracker` that captures the events of its
lineage addressed to ``event.source``; it returns the last of them once the tracker
is idle. Each resolve waits for its own lineage only, so many resolves may run at
once on one broker, from any threads, with the same source or different ones.

The tracker records every error reported for an event of its lineage; a lineage that
ends without a final event makes ``resolve`` raise :class:`ResolveError` with them
(``missing="none"`` returns None instead, as the TypeScript ``resolve`` does). A
resolve that times out abandons its lineage: the broker stops routing it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal, overload

from arvo_concurrent.actors.lifecycle import (
    Closeable,
    check_timeout,
    deadline_after,
    remaining,
)
from arvo_concurrent.arvo import ArvoEvent
from arvo_concurrent.broker.broker import DEFAULT_MAX_HOPS, ConcurrentEventBroker
from arvo_concurrent.broker.config import HandlerConfig, resolve_handler_config
from arvo_concurrent.broker.errors import (
    BrokerErrorHandler,
    InvalidEventError,
    ResolveError,
    ResolveTimeoutError,
)
from arvo_concurrent.broker.pipeline import HandlerCounters, HandlerPipeline, OnDomainedEvents
from arvo_concurrent.broker.tracking import WorkTracker
from arvo_concurrent.broker.transport import Transport
from arvo_concurrent.errors import ArgumentError

if TYPE_CHECKING:
    from arvo_concurrent.observability.telemetry import Telemetry

__all__ = ["ConcurrentEventBrokerHandle", "create_concurrent_event_broker"]

logger = logging.getLogger(__name__)

Missing = Literal["raise", "none"]
"""What ``resolve`` does when no final event came back: raise ResolveError, or return None."""

_MISSING = ("raise", "none")


class _Resolution:
    """One ``resolve``: its tracker, the last event routed back to its source, its outcome."""

    __slots__ = ("event", "last", "missing", "tracker")

    def __init__(self, event: ArvoEvent, source: str, missing: Missing) -> None:
        self.event = event
        self.missing = missing
        self.last: ArvoEvent | None = None
        self.tracker = WorkTracker(capture_topic=source, on_capture=self._keep, record_errors=True)

    def _keep(self, event: ArvoEvent) -> None:
        self.last = event  # one reference store: atomic, the last capture wins

    def outcome(self) -> ArvoEvent | None:
        """The final event; without one, None or :class:`ResolveError` as ``missing`` says."""
        if self.last is None and self.missing == "raise":
            raise ResolveError(self.event, self.tracker.errors)
        return self.last


# How long an idle completer thread waits for more work before it ends. Completions come
# in bursts, and starting a thread for each burst would cost more than the hand-offs it
# serves (benchmark W4); the handle's close() ends the thread at once.
_COMPLETER_LINGER_S = 0.5


class _Completer:
    """Completes ``resolve_async`` futures on a thread of its own, in completion order.

    A future's done-callbacks run in the thread that completes it. Completed on the
    pool worker that finished a resolve's last event, a slow callback would hold that
    worker, and one that resolves again on a handler with prefetch 1 would wait for
    the very worker it blocks. The thread starts on demand and ends once it has had
    nothing to do for a moment, so an idle handle holds no thread. Thread-safe.
    """

    __slots__ = ("_closed", "_cond", "_pending", "_thread")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._pending: deque[tuple[Future[ArvoEvent | None], _Resolution]] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False

    def complete(self, future: Future[ArvoEvent | None], resolution: _Resolution) -> None:
        """Complete ``future`` with the resolution's outcome on the completer thread.

        Never blocks long. A future cancelled meanwhile is left as it is.
        """
        with self._cond:
            self._pending.append((future, resolution))
            if self._thread is not None:
                self._cond.notify()
                return
            self._thread = threading.Thread(
                target=self._run, name="arvo-resolve-callbacks", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending and not self._closed:
                    self._cond.wait(_COMPLETER_LINGER_S)
                if not self._pending:
                    self._thread = None
                    return
                future, resolution = self._pending.popleft()
            try:
                _settle(future, resolution)
            except BaseException:
                # Future logs a callback's Exception itself; this is for what it lets
                # through, so that the futures after it still complete.
                logger.exception("A done-callback of a resolve_async future raised")

    def close(self, timeout: float | None) -> None:
        """End the thread once the pending futures are done; wait up to ``timeout`` s.

        Futures completed later (a straggler's) still complete, on a thread that ends
        as soon as they are done. Not waited for when called from the thread itself.
        """
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


def _settle(future: Future[ArvoEvent | None], resolution: _Resolution) -> None:
    if not future.set_running_or_notify_cancel():
        return  # cancelled: its lineage was abandoned already
    try:
        value = resolution.outcome()
    except ResolveError as error:
        future.set_exception(error)
    else:
        future.set_result(value)


def _check_missing(missing: object) -> None:
    if missing not in _MISSING:
        raise ArgumentError(
            f"missing must be 'raise' or 'none', got {missing!r}", "missing", missing
        )


class ConcurrentEventBrokerHandle(Closeable):
    """What :func:`create_concurrent_event_broker` returns.

    Unpacks as ``broker, resolve = handle`` and is a context manager that closes the
    broker. Every method is thread-safe.
    """

    def __init__(
        self, broker: ConcurrentEventBroker, pipelines: Mapping[str, HandlerPipeline]
    ) -> None:
        self.broker = broker
        self._pipelines = dict(pipelines)
        self._completer = _Completer()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.broker, self.resolve))

    @overload
    def resolve(
        self, event: ArvoEvent, timeout: float | None = None, *, missing: Literal["raise"] = ...
    ) -> ArvoEvent: ...

    @overload
    def resolve(
        self, event: ArvoEvent, timeout: float | None = None, *, missing: Missing
    ) -> ArvoEvent | None: ...

    def resolve(
        self, event: ArvoEvent, timeout: float | None = None, *, missing: Missing = "raise"
    ) -> ArvoEvent | None:
        """Publish ``event`` and return the last event routed back to ``event.source``.

        Blocks until every event descended from ``event`` is done (handled, failed,
        dropped, or handed to ``on_domained_events``), or ``timeout`` seconds. Every
        error reported for an event of that lineage is recorded on this resolve (and
        still reaches ``on_broker_error``).

        Args:
            event: the event to publish; it needs a string ``to`` and ``source``.
            timeout: seconds to wait (None: no limit); checked before anything is
                published.
            missing: ``"raise"`` (default): no final event raises :class:`ResolveError`;
                ``"none"``: return None instead, as the TypeScript ``resolve`` does (a
                workflow that paused on a domained event ends that way).

        Returns:
            The last event whose ``to`` was ``event.source`` (None only with
            ``missing="none"``).

        Raises:
            ResolveError: the lineage ended without a final event; ``.errors`` holds
                every ``(error, event)`` reported for it (none: "no final event").
            ResolveTimeoutError: ``timeout`` passed first (a TimeoutError). The lineage
                is abandoned: its waiting events are dropped and reported, and the ones
                it publishes from then on are not routed.
            WaitInHandlerError: called from a handler of this broker that has no free
                slot (see :meth:`ConcurrentEventBroker.check_blocking_resolve`);
                nothing was published.
            ArgumentError: a bad ``timeout`` or ``missing`` (a ValueError).
            InvalidEventError: ``event`` has no string ``to`` or ``source``, or its
                ``source`` is one of the broker's topics (a ValueError). Nothing was
                published.
            QueueFullError: the first handler's waiting queue is full.
            ClosedError: the broker is closed.
        """
        check_timeout(timeout)
        _check_missing(missing)
        self.broker.check_blocking_resolve()
        resolution = self._start(event, missing)
        tracker = resolution.tracker
        if not tracker.wait_idle(timeout):
            tracker.abandon()
            raise ResolveTimeoutError(event, timeout or 0.0, tracker.pending, tracker.errors)
        return resolution.outcome()

    @overload
    def resolve_async(
        self, event: ArvoEvent, *, missing: Literal["raise"] = ...
    ) -> Future[ArvoEvent]: ...

    @overload
    def resolve_async(self, event: ArvoEvent, *, missing: Missing) -> Future[ArvoEvent | None]: ...

    def resolve_async(
        self, event: ArvoEvent, *, missing: Missing = "raise"
    ) -> Future[ArvoEvent] | Future[ArvoEvent | None]:
        """Like :meth:`resolve`, without blocking: the future gets the final event.

        It fails with :class:`ResolveError` where :meth:`resolve` would raise it.
        Cancelling the future (while its lineage runs) abandons the lineage, as a
        :meth:`resolve` timeout does. The future completes on a thread of this handle,
        never on a pool worker, so its done-callbacks (run there, one at a time) may
        block or call :meth:`resolve` without holding up any handler. Raises at once
        what :meth:`resolve` raises before it would wait; callable from any handler.
        """
        _check_missing(missing)
        resolution = self._start(event, missing)
        tracker = resolution.tracker
        future: Future[ArvoEvent | None] = Future()
        future.add_done_callback(lambda done: tracker.abandon() if done.cancelled() else None)
        tracker.when_idle(lambda: self._completer.complete(future, resolution))
        return future

    def _start(self, event: ArvoEvent, missing: Missing) -> _Resolution:
        source = getattr(event, "source", None)
        if not source or not isinstance(source, str):
            raise InvalidEventError(event, "source")
        if source in self.broker.topics:
            raise InvalidEventError(
                event,
                "source",
                "The event source cannot be one of the handlers in the broker. "
                f"Please update the event.source, the given is '{source}'",
            )
        resolution = _Resolution(event, source, missing)
        tracker = resolution.tracker
        telemetry = self.broker.telemetry
        if telemetry is None:
            self.broker.publish(event, trackers=[tracker])
        else:  # a span from the publish to the end of the lineage
            telemetry.resolve(
                event, lambda: self.broker.publish(event, trackers=[tracker]), tracker.when_idle
            )
        return resolution

    def handler_stats(self, source: str) -> HandlerCounters | None:
        """Executions, retries and outcomes of the handler at ``source`` (None if unknown)."""
        pipeline = self._pipelines.get(source)
        return None if pipeline is None else pipeline.counters

    def close(self, timeout: float | None = 10.0) -> None:
        """Close the broker (see :meth:`ConcurrentEventBroker.close`). Idempotent.

        Within the same ``timeout``, also waits for the done-callbacks of
        ``resolve_async`` futures that the close completed (their events dropped).
        """
        check_timeout(timeout)
        deadline = deadline_after(timeout)
        self.broker.close(timeout)
        self._completer.close(remaining(deadline))


def create_concurrent_event_broker(
    handlers: Sequence[Mapping[str, Any] | HandlerConfig],
    default_handler_config: Mapping[str, Any] | HandlerConfig | None = None,
    on_broker_error: BrokerErrorHandler | None = None,
    on_domained_events: OnDomainedEvents | None = None,
    *,
    max_hops: int = DEFAULT_MAX_HOPS,
    sleep: Callable[[float], object] | None = None,
    telemetry: Telemetry | None = None,
    transport: Transport | None = None,
) -> ConcurrentEventBrokerHandle:
    """Build a broker that runs Arvo handlers, each at its own prefetch, with retries.

    Args:
        handlers: one entry per handler: ``{"handler": h, "prefetch": 3, "retry":
            {...}, "on_error": fn, "middleware": {...}, "max_queued": n}`` (or a
            HandlerConfig).
        default_handler_config: fields every entry falls back to, field by field.
        on_broker_error: ``fn(error, event)`` for every event that failed for good,
            could not be routed, was dropped or went past the hop limit. By default
            each is logged at ERROR on the ``arvo_concurrent.broker`` logger, and each
            kind of error is also written once to stderr.
        on_domained_events: ``fn({"domain", "event", "broker"})`` for every output
            event whose ``domain`` is set (instead of publishing it); it runs on the
            worker that produced the event and counts as that event's work.
        max_hops: the most events one lineage may publish; the ones past it are
            reported as :class:`HopLimitError` (see :class:`ConcurrentEventBroker`).
        sleep: the retry backoff; tests inject one that records the waits.
        telemetry: an :class:`~arvo_concurrent.observability.Telemetry` (the ``otel``
            extra): OpenTelemetry spans for every publish, delivery, execution, lock
            wait, domained event and resolve, and the broker's metrics. None (the
            default), or one that would record nothing (no SDK installed): no tracing,
            and no cost beyond a ``None`` check per hop.
        transport: where the events travel (None, the default: in this process). With
            :class:`arvo_concurrent.postgres.PostgresTransport` they go through a
            PostgreSQL queue that several processes serve, and a retry waits there
            (see the README's "Durable broker on PostgreSQL").

    Returns:
        A handle: ``broker, resolve = handle``, or ``with ... as handle:``.

    Raises:
        ArgumentError: a bad entry, naming the key and value (a ValueError;
            :class:`ArgumentTypeError`, also a TypeError, for a value of the wrong
            kind); :class:`SubscriptionConflictError` for two handlers with one source.
    """
    broker = ConcurrentEventBroker(
        on_error=on_broker_error, max_hops=max_hops, telemetry=telemetry, transport=transport
    )
    pipelines: dict[str, HandlerPipeline] = {}
    try:
        for entry in handlers:
            config = resolve_handler_config(entry, default_handler_config)
            pipeline = HandlerPipeline(
                config,
                report=broker.report,
                closing=broker.closing,
                on_domained_events=on_domained_events,
                broker=broker,
                sleep=sleep,
            )
            broker.subscribe(
                pipeline,
                topic=config.handler.source,
                prefetch=config.prefetch,
                max_queued=config.max_queued,
            )
            pipelines[config.handler.source] = pipeline
    except BaseException:
        broker.close()
        raise
    return ConcurrentEventBrokerHandle(broker, pipelines)
