"""``create_concurrent_event_broker``: a broker wired with Arvo handlers, and ``resolve``.

Each handler becomes a subscription at its ``source`` whose events run through a
:class:`~arvo_concurrent.broker.pipeline.HandlerPipeline` (middleware, retries,
domained events). ``resolve(event)`` publishes one event in a fresh
:class:`~arvo_concurrent.broker.tracking.WorkTracker` that captures the events of its
lineage addressed to ``event.source``; it returns the last of them once the tracker
is idle. Each resolve waits for its own lineage only, so many resolves may run at
once on one broker, from any threads, with the same source or different ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from arvo_concurrent.actors.lifecycle import Closeable
from arvo_concurrent.broker.broker import ConcurrentEventBroker
from arvo_concurrent.broker.config import HandlerConfig, resolve_handler_config
from arvo_concurrent.broker.errors import ResolveTimeoutError
from arvo_concurrent.broker.pipeline import HandlerCounters, HandlerPipeline, OnDomainedEvents
from arvo_concurrent.broker.tracking import WorkTracker

__all__ = ["ConcurrentEventBrokerHandle", "create_concurrent_event_broker"]

logger = logging.getLogger(__name__)

OnBrokerError = Callable[[Exception, Any], object]


def _log_broker_error(error: Exception, event: Any) -> None:
    logger.error(
        "Broker error for event type=%s to=%s: %s",
        getattr(event, "type", None),
        getattr(event, "to", None),
        error,
        exc_info=error,
    )


class _Capture:
    """Keeps the last event routed back to a resolve's source."""

    __slots__ = ("last", "lock")

    def __init__(self) -> None:
        self.last: Any = None
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.last = event


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

    def __iter__(self) -> Iterator[Any]:
        return iter((self.broker, self.resolve))

    def resolve(self, event: Any, timeout: float | None = None) -> Any:
        """Publish ``event`` and return the last event routed back to ``event.source``.

        Blocks until every event descended from ``event`` is done (handled, failed,
        dropped, or handed to ``on_domained_events``), or ``timeout`` seconds.

        Returns:
            The last event whose ``to`` was ``event.source``, or None if there was none.

        Raises:
            ValueError: ``event.source`` is one of the broker's topics, or ``event`` has no ``to``.
            ResolveTimeoutError: ``timeout`` passed first (a TimeoutError); the work goes on.
            ClosedError: the broker is closed.
        """
        capture, tracker = self._start(event)
        if not tracker.wait_idle(timeout):
            raise ResolveTimeoutError(event, timeout or 0.0, tracker.pending)
        return capture.last

    def resolve_async(self, event: Any) -> Future[Any]:
        """Like :meth:`resolve`, without blocking: the future gets the final event (or None).

        Raises at once what :meth:`resolve` raises before it would wait.
        """
        capture, tracker = self._start(event)
        future: Future[Any] = Future()
        tracker.when_idle(lambda: future.set_result(capture.last))
        return future

    def _start(self, event: Any) -> tuple[_Capture, WorkTracker]:
        source = getattr(event, "source", None)
        if source in self.broker.topics:
            raise ValueError(
                "The event source cannot be one of the handlers in the broker. "
                f"Please update the event.source, the given is '{source}'"
            )
        capture = _Capture()
        tracker = WorkTracker(capture_topic=source, on_capture=capture)
        self.broker.publish(event, trackers=[tracker])
        return capture, tracker

    def handler_stats(self, source: str) -> HandlerCounters | None:
        """Executions, retries and outcomes of the handler at ``source`` (None if unknown)."""
        pipeline = self._pipelines.get(source)
        return None if pipeline is None else pipeline.counters

    def close(self, timeout: float | None = 10.0) -> None:
        """Close the broker (see :meth:`ConcurrentEventBroker.close`). Idempotent."""
        self.broker.close(timeout)


def create_concurrent_event_broker(
    handlers: Sequence[Mapping[str, Any] | HandlerConfig],
    default_handler_config: Mapping[str, Any] | HandlerConfig | None = None,
    on_broker_error: OnBrokerError | None = None,
    on_domained_events: OnDomainedEvents | None = None,
    *,
    sleep: Callable[[float], object] | None = None,
) -> ConcurrentEventBrokerHandle:
    """Build a broker that runs Arvo handlers, each at its own prefetch, with retries.

    Args:
        handlers: one entry per handler: ``{"handler": h, "prefetch": 3, "retry":
            {...}, "on_error": fn, "middleware": {...}}`` (or a HandlerConfig).
        default_handler_config: fields every entry falls back to, field by field.
        on_broker_error: ``fn(error, event)`` for every event that failed for good,
            could not be routed, or was dropped; by default they are logged at ERROR.
        on_domained_events: ``fn({"domain", "event", "broker"})`` for every output
            event whose ``domain`` is set (instead of publishing it); it runs on the
            worker that produced the event and counts as that event's work.
        sleep: the retry backoff; tests inject one that records the waits.

    Returns:
        A handle: ``broker, resolve = handle``, or ``with ... as handle:``.

    Raises:
        TypeError / ValueError: a bad entry (the message names the key and value), or
            two handlers with one source ("Subscription conflict").
    """
    report = on_broker_error or _log_broker_error
    broker = ConcurrentEventBroker(on_error=report)
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
            broker.subscribe(pipeline, topic=config.handler.source, prefetch=config.prefetch)
            pipelines[config.handler.source] = pipeline
    except BaseException:
        broker.close()
        raise
    return ConcurrentEventBrokerHandle(broker, pipelines)
