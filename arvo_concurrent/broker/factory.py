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
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from arvo_concurrent.actors.lifecycle import (
    Closeable,
    check_timeout,
    deadline_after,
    remaining,
)
from arvo_concurrent.broker.broker import ConcurrentEventBroker
from arvo_concurrent.broker.config import HandlerConfig, resolve_handler_config
from arvo_concurrent.broker.errors import InvalidEventError, ResolveTimeoutError
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
        self._pending: deque[tuple[Future[Any], _Capture]] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False

    def complete(self, future: Future[Any], capture: _Capture) -> None:
        """Set ``future`` to ``capture.last`` on the completer thread. Never blocks long."""
        with self._cond:
            self._pending.append((future, capture))
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
                future, capture = self._pending.popleft()
            try:
                future.set_result(capture.last)
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

    def resolve(self, event: Any, timeout: float | None = None) -> Any:
        """Publish ``event`` and return the last event routed back to ``event.source``.

        Blocks until every event descended from ``event`` is done (handled, failed,
        dropped, or handed to ``on_domained_events``), or ``timeout`` seconds.

        Returns:
            The last event whose ``to`` was ``event.source``, or None if there was none.

        Raises:
            ValueError: ``event.source`` is one of the broker's topics;
                :class:`InvalidEventError` (a ValueError) when ``event`` has no string
                ``to`` or ``source``.
            ResolveTimeoutError: ``timeout`` passed first (a TimeoutError); the work goes on.
            ClosedError: the broker is closed.
        """
        capture, tracker = self._start(event)
        if not tracker.wait_idle(timeout):
            raise ResolveTimeoutError(event, timeout or 0.0, tracker.pending)
        return capture.last

    def resolve_async(self, event: Any) -> Future[Any]:
        """Like :meth:`resolve`, without blocking: the future gets the final event (or None).

        The future completes on a thread of this handle, never on a pool worker, so its
        done-callbacks (run there, one at a time) may block or call :meth:`resolve`
        without holding up any handler. Raises at once what :meth:`resolve` raises
        before it would wait.
        """
        capture, tracker = self._start(event)
        future: Future[Any] = Future()
        tracker.when_idle(lambda: self._completer.complete(future, capture))
        return future

    def _start(self, event: Any) -> tuple[_Capture, WorkTracker]:
        source = getattr(event, "source", None)
        if not source or not isinstance(source, str):
            raise InvalidEventError(event, "source")
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
