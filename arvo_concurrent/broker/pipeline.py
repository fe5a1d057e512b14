"""What happens to one event of an Arvo handler inside the broker.

input middleware -> ``handler.execute`` with retries -> output middleware -> each
output event either to ``on_domained_events`` (its ``domain`` is set) or published.

It all runs on the pool worker that took the event, so the event keeps its prefetch
slot through its retries (unless its ``publish`` has a ``retry_later``, as a durable
transport's does: the retry then waits in the queue, slot freed), and a domained
callback counts as the event's in-flight
work: ``resolve`` and ``wait_for_idle`` wait for it. Every failure reaches
``on_broker_error`` with the event it is about, and is recorded on the event's lineage
(what ``resolve`` raises with); one failing output never stops the others.

Retry policy: only ``handler.execute`` is retried. A middleware error is reported at
once and counts the event as failed: input middleware runs before any execution,
and output middleware after the handler already ran (retrying would run its side
effects again); the handler's ``on_error`` is not asked about either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from arvo_concurrent.broker.config import ResolvedHandlerConfig
from arvo_concurrent.broker.errors import DomainedEventError, HandlerAbortedError
from arvo_concurrent.broker.middleware import MiddlewareError, apply_input, apply_output
from arvo_concurrent.broker.retry import Deferred, Failed, Suppressed, run_with_retries
from arvo_concurrent.broker.tracking import Lineage
from arvo_concurrent.observability.logfields import event_log_fields, reporting_attempts

if TYPE_CHECKING:
    from arvo_concurrent.observability.telemetry import Executions

__all__ = ["HandlerCounters", "HandlerPipeline", "Report"]

logger = logging.getLogger(__name__)

OnDomainedEvents = Callable[[dict[str, Any]], object]


class Report(Protocol):
    """``report(error, event, lineage)``: what :meth:`ConcurrentEventBroker.report` does."""

    def __call__(self, error: Exception, event: Any, lineage: Lineage = ()) -> None:
        """Record ``error`` on ``lineage`` and hand it to ``on_broker_error``; never raises."""
        ...


class HandlerCounters(msgspec.Struct, frozen=True, kw_only=True):
    """What one handler has done so far (a snapshot).

    Attributes:
        executions: calls of ``handler.execute``, retries included.
        retries: executions after the first for an event.
        succeeded: events whose execution finally returned and whose outputs passed
            the output middleware.
        failed: events given up (retries spent, THROW, closing, or a middleware error).
        suppressed: events dropped by an ``on_error`` that answered SUPPRESS.
    """

    executions: int = 0
    retries: int = 0
    succeeded: int = 0
    failed: int = 0
    suppressed: int = 0


class _Counts:
    """Mutable counters behind a lock; read through :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(HandlerCounters.__struct_fields__, 0)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for key, delta in deltas.items():
                self._values[key] += delta

    def snapshot(self) -> HandlerCounters:
        with self._lock:
            return HandlerCounters(**self._values)


class HandlerPipeline:
    """Runs events of one handler; the ``fn(event, publish)`` its subscription calls.

    Thread-safe: the pool calls it from up to ``prefetch`` workers at once.

    With telemetry, each execution is a CONSUMER span of its own (the broker gives the
    pipeline the event's trace context instead of a span: ``traces_executions``).
    """

    traces_executions = True

    def __init__(
        self,
        config: ResolvedHandlerConfig,
        *,
        report: Report,
        closing: threading.Event,
        on_domained_events: OnDomainedEvents | None,
        broker: Any,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._config = config
        self._report = report
        self._closing = closing
        self._on_domained = on_domained_events
        self._broker = broker
        self._sleep = sleep
        self._counts = _Counts()
        self._topic = config.handler.source
        # The broker's Telemetry, if any: the attempt spans, outcome counters, domained spans.
        self._telemetry = getattr(broker, "telemetry", None)

    @property
    def counters(self) -> HandlerCounters:
        """A snapshot of what this handler has done."""
        return self._counts.snapshot()

    def __call__(self, event: Any, publish: Callable[[Any], None]) -> None:
        """Run ``event`` through middleware, the handler and fan-out. Never raises."""
        # The broker's publish knows the event's lineage: failures are recorded on it.
        lineage: Lineage = getattr(publish, "lineage", ())
        if self._telemetry is None:
            self._run(event, publish, lineage, None)
            return
        traced = self._telemetry.executions(self._topic)
        try:
            self._run(event, publish, lineage, traced)
        finally:  # the successful execution's span held the outputs' publishes
            traced.finish()

    def _run(
        self,
        event: Any,
        publish: Callable[[Any], None],
        lineage: Lineage,
        traced: Executions | None,
    ) -> None:
        outputs = self._execute(event, publish, lineage, traced)
        if outputs is None:
            return
        for output in outputs:
            self._emit(output, publish, lineage)

    def _execute(
        self, event: Any, publish: Any, lineage: Lineage, traced: Executions | None
    ) -> list[Any] | None:
        try:
            source = apply_input(self._config.middleware.input, event)
        except MiddlewareError as error:
            self._counts.add(failed=1)
            self._observe("failed", 0, error)
            self._report(error, event, lineage)
            return None
        execute = self._config.handler.execute
        # A durable broker's publish runs retries later, from its queue (its attempt
        # numbers go on across deliveries); the in-process one waits here.
        retry_later = getattr(publish, "retry_later", None)
        first = getattr(publish, "attempt", 1)
        outcome = run_with_retries(
            (lambda: execute(source)) if traced is None else traced.call(execute, source),
            self._config.retry,
            event=source,
            closing=self._closing,
            on_error=self._config.on_error,
            sleep=self._sleep,
            first_attempt=first,
            defer=retry_later is not None,
        )
        # One counter update per event: this lock is taken on every event of the handler.
        executions = outcome.attempts - first + 1
        attempts = {"executions": executions, "retries": executions - (1 if first == 1 else 0)}
        if isinstance(outcome, Deferred):
            self._counts.add(**attempts)
            assert retry_later is not None  # only a retry_later defers
            retry_later(outcome.delay_s, outcome.error)
            return None
        if isinstance(outcome, Suppressed):
            self._counts.add(suppressed=1, **attempts)
            self._observe("suppressed", outcome.attempts)
            logger.info(
                "Suppressed failure of %r: %r",
                source,
                outcome.error,
                extra=event_log_fields(source, topic=self._topic, attempt=outcome.attempts),
            )
            return None
        if isinstance(outcome, Failed):
            self._counts.add(failed=1, **attempts)
            self._observe("failed", outcome.attempts, outcome.error)
            outcome.error.add_note(f"after {outcome.attempts} attempt(s) ({outcome.reason})")
            with reporting_attempts(outcome.attempts):
                self._report(outcome.error, source, lineage)
            return None
        produced = list(outcome.value or ())
        try:
            emitted = apply_output(self._config.middleware.output, source, produced)
        except MiddlewareError as error:
            self._counts.add(failed=1, **attempts)
            self._observe("failed", outcome.attempts, error)
            if traced is not None:
                traced.finish(error)
            error.add_note("not retried: the handler had already run; no output was emitted")
            self._report(error, source, lineage)
            return None
        self._counts.add(succeeded=1, **attempts)
        self._observe("handled", outcome.attempts)
        return emitted

    def _observe(self, outcome: str, attempts: int, error: BaseException | None = None) -> None:
        if self._telemetry is not None:
            self._telemetry.count_outcome(self._topic, outcome, attempts, error)

    def _emit(self, output: Any, publish: Callable[[Any], None], lineage: Lineage) -> None:
        try:
            if getattr(output, "domain", None) is None:
                publish(output)
            elif self._on_domained is None:
                raise DomainedEventError(output, "no on_domained_events callback takes it")
            elif self._telemetry is None:
                self._hand_domained(output)
            else:  # a PRODUCER span to the domain; the callback gets the stamped event
                self._telemetry.publish(output, output.domain, self._hand_domained)
        except Exception as error:  # noqa: BLE001 - reported; the other outputs still go out
            self._report(error, output, lineage)
        except BaseException as abort:  # noqa: BLE001 - the same, for a CancelledError & co
            self._report(HandlerAbortedError(abort, output), output, lineage)

    def _hand_domained(self, output: Any) -> None:
        assert self._on_domained is not None  # checked by _emit
        self._on_domained({"domain": output.domain, "event": output, "broker": self._broker})
