"""``Telemetry``: OpenTelemetry traces and metrics of a broker's events, on the API only.

Pass one to ``create_concurrent_event_broker(..., telemetry=Telemetry())`` (or to
``ConcurrentEventBroker(telemetry=...)``). Without it the broker pays one ``None`` check
per hop and nothing else; the library never turns tracing on by itself just because
``opentelemetry-api`` happens to be installed. The spans and metrics go to the global
tracer and meter providers (or the ones given), so the application chooses the SDK,
the sampler and the exporters. A broker made while neither provider is an SDK's (the
API alone has only no-op and proxy providers) keeps no telemetry: it would record
nothing, and the API's no-op calls would still cost more per hop than the hop itself.
Tracing and metrics switch on independently. Span attributes are built only for
recording spans (a sampler that drops a trace saves that work too).

The trace of one event (W3C trace context in the event's ``traceparent`` and
``tracestate``, read and written through ``opentelemetry.propagate``, so the trace
flags are hexadecimal as W3C says):

* ``publish <to>`` (PRODUCER), one per publish, child of the publishing code's span
  (the handler run that emitted the event, a ``resolve``, the caller's own span) or,
  when there is none, of the event's own ``traceparent``. The event is re-stamped with
  this span's context, so every emitted event carries it on to the next hop.
* ``process <to>`` (CONSUMER), one per execution of a handler, on the pool worker
  thread, parented from the event's ``traceparent``: the trace crosses threads, and a
  retry is a sibling (``arvo.attempt`` numbers them). The outputs of the execution that
  succeeded are published inside its span. A workflow step's lock wait is a
  ``lock workflow`` child span of the execution (``arvo.lock.wait_ms``). A raw
  ``subscribe(fn)`` gets one per delivery.
* ``publish <domain>`` (PRODUCER) for a domained event handed to
  ``on_domained_events``, which gets the event stamped with it.
* ``resolve <to>`` (INTERNAL) from ``resolve()``/``resolve_async()`` to the end of the
  lineage: the root of a resolve's tree when the caller has no span.

Spans carry the messaging and CloudEvents attributes of
:mod:`~arvo_concurrent.observability.attributes`; the metrics are listed in
:mod:`~arvo_concurrent.observability.instruments`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from arvo_concurrent.extras import require_extra
from arvo_concurrent.observability.active import running_telemetry
from arvo_concurrent.observability.attributes import (
    ATTEMPT,
    ERROR_TYPE,
    LOCK_ACQUIRED,
    LOCK_WAIT_MS,
    event_attributes,
)
from arvo_concurrent.observability.instruments import Instruments

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["INSTRUMENTATION_SCOPE", "Telemetry"]

T = TypeVar("T")

_log = logging.getLogger(__name__)

INSTRUMENTATION_SCOPE = "arvo_concurrent"
"""The name of the tracer and the meter (the instrumentation scope)."""


class Telemetry:
    """Traces and metrics of the brokers it is given to, through the OpenTelemetry API.

    One may serve many brokers. Thread-safe: every method may run on any thread at once
    (the pool workers call it); none blocks beyond what it wraps.

    Args:
        tracer_provider: where spans go (default: the global one, looked up on use).
        meter_provider: where metrics go (default: the global one).
        propagator: reads and writes ``traceparent``/``tracestate`` (default: the global
            ``opentelemetry.propagate`` propagator, W3C trace context unless configured).

    Raises:
        MissingExtraError: ``opentelemetry-api`` is not installed
            (``pip install 'arvo-concurrent[otel]'``).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        require_extra(
            "opentelemetry.trace", extra="otel", package="opentelemetry-api", feature="Telemetry"
        )
        # Imported here, not at the top: importing the library must not import the extra.
        from opentelemetry import context, metrics, propagate, trace  # noqa: PLC0415
        from opentelemetry.metrics import Observation  # noqa: PLC0415
        from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: PLC0415

        version = _version() or ""
        self._trace = trace
        self._context = context
        self._providers = (
            tracer_provider or trace.get_tracer_provider,
            meter_provider or metrics.get_meter_provider,
        )
        self._tracing = self._metering = False
        self._tracer = trace.get_tracer(INSTRUMENTATION_SCOPE, version, tracer_provider)
        self.instruments = Instruments(
            metrics.get_meter(INSTRUMENTATION_SCOPE, version, meter_provider), Observation
        )
        self._inject = propagate.inject if propagator is None else propagator.inject
        self._extract = propagate.extract if propagator is None else propagator.extract
        self._kinds = (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL)
        self._error = (Status, StatusCode.ERROR)
        self._empty: Context = context.Context()

    @property
    def tracing(self) -> bool:
        """Whether spans are recorded (an SDK tracer provider, found by :meth:`bind`)."""
        return self._tracing

    @property
    def metering(self) -> bool:
        """Whether metrics are recorded (an SDK meter provider, found by :meth:`bind`)."""
        return self._metering

    # -- broker hooks ---------------------------------------------------------------

    def bind(self, broker: Any) -> bool:
        """Take on ``broker``; whether anything it does would be recorded.

        Looks the providers up now: tracing is on when the tracer provider is an SDK's
        (not the API's own no-op or proxy provider, which is all there is before an SDK
        is installed), metrics likewise; once on, they stay on. When neither is, the
        broker keeps no telemetry and pays nothing per event: install the SDK before
        making the broker. Observes the broker's queues (``arvo.events.in_flight`` /
        ``queued``) while it lives.
        """
        tracer_provider, meter_provider = (
            provider() if callable(provider) else provider for provider in self._providers
        )
        self._tracing = self._tracing or _records(tracer_provider)
        self._metering = self._metering or _records(meter_provider)
        self.instruments.observe(broker)
        if not (self._tracing or self._metering):
            _log.info(
                "%r runs without telemetry: no OpenTelemetry SDK tracer or meter provider is "
                "installed (the API's own providers record nothing)",
                broker,
            )
        return self._tracing or self._metering

    def publish(self, event: Any, destination: str, send: Callable[[Any], object]) -> None:
        """Call ``send(event)`` inside a PRODUCER span, the event stamped with its context.

        Raises what ``send`` raises (recorded on the span).
        """
        if not self._tracing:
            send(event)
            return
        parent = self._parent_of(event)
        span = self._tracer.start_span(f"publish {destination}", parent, self._kinds[0])
        if span.is_recording():
            span.set_attributes(event_attributes(event, destination, "publish"))
        try:
            send(self._stamped(event, self._trace.set_span_in_context(span, parent)))
        except BaseException as error:
            self._failed(span, error)
            raise
        finally:
            span.end()

    def consume(
        self, event: Any, queued_at: float, fn: Callable[[Any, Any], object], publish: Any
    ) -> None:
        """Run ``fn(event, publish)`` in the event's trace context, on a pool worker.

        A ``fn`` that traces its own executions (``fn.traces_executions``, as a handler
        pipeline does: one CONSUMER span per execution, see :meth:`executions`) runs in
        the context read from the event; any other gets one CONSUMER span, parented
        from the event. ``queued_at`` (a ``time.perf_counter()`` reading, 0 if unknown)
        gives the ``arvo.queue.wait`` figure. Raises what ``fn`` raises (recorded).
        """
        topic = str(getattr(event, "to", ""))
        if queued_at and self._metering:
            self.instruments.queue_wait.record(
                time.perf_counter() - queued_at, self.instruments.topic(topic)
            )
        running = running_telemetry.set(self)
        try:
            if not self._tracing:
                fn(event, publish)
            elif getattr(fn, "traces_executions", False):
                token = self._context.attach(self._extracted(event))
                try:
                    fn(event, publish)
                finally:
                    self._context.detach(token)
            else:
                _, span, opened = self.consumer_span(event, topic, lambda: fn(event, publish))
                self.end_span(span, opened)
        finally:
            running_telemetry.reset(running)

    def executions(self, topic: str) -> Executions:
        """The executions of one event by the handler at ``topic`` (see :class:`Executions`)."""
        return Executions(self, topic)

    def consumer_span(
        self, event: Any, topic: str, call: Callable[[], T], attempt: int = 0
    ) -> tuple[T, Span, Token[Context]]:
        """Run ``call()`` in a new ``process <topic>`` CONSUMER span; for tracing only.

        The span is parented from the current context, else from the event's. On
        success it is left open and current: returned with its context token, for the
        caller to end with :meth:`end_span` (on the same thread). On failure it ends
        (recording the error) and the error is raised.
        """
        parent = self._context.get_current()
        if not self._trace.get_current_span(parent).get_span_context().is_valid:
            parent = self._extracted(event)
        span = self._tracer.start_span(f"process {topic}", parent, self._kinds[1])
        if span.is_recording():
            attributes = event_attributes(event, topic, "process")
            if attempt:
                attributes[ATTEMPT] = attempt
            span.set_attributes(attributes)
        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        try:
            value = call()
        except BaseException as error:
            self._failed(span, error)
            self._context.detach(token)
            span.end()
            raise
        return value, span, token

    def end_span(
        self, span: Span, token: Token[Context], error: BaseException | None = None
    ) -> None:
        """End a span :meth:`consumer_span` left open (failed with ``error``, if given)."""
        if error is not None:
            self._failed(span, error)
        self._context.detach(token)
        span.end()

    def count_outcome(
        self, topic: str, outcome: str, attempts: int, error: BaseException | None = None
    ) -> None:
        """Count an event's outcome: ``"handled"``, ``"failed"`` or ``"suppressed"``."""
        if not self._metering:
            return
        instruments = self.instruments
        if attempts > 1:
            instruments.retried.add(attempts - 1, instruments.topic(topic))
        if outcome == "handled":
            instruments.handled.add(1, instruments.topic(topic))
        elif outcome == "failed" and error is not None:
            instruments.failed.add(1, instruments.with_error(topic, error))
        else:
            instruments.dropped_from(topic, "suppressed")

    def dropped(self, topic: str, reason: str) -> None:
        """Count an event of ``topic`` the broker dropped for ``reason``."""
        if self._metering:
            self.instruments.dropped_from(topic, reason)

    def resolve(
        self,
        event: Any,
        publish: Callable[[], object],
        when_idle: Callable[[Callable[[], object]], object],
    ) -> None:
        """Open a ``resolve <to>`` span, ``publish()`` in it, end it at ``when_idle``.

        Raises what ``publish`` raises (the span then ends at once, failed).
        """
        if not self._tracing:
            publish()
            return
        parent = self._parent_of(event)
        destination = str(getattr(event, "to", ""))
        span = self._tracer.start_span(f"resolve {destination}", parent, self._kinds[2])
        if span.is_recording():
            span.set_attributes(event_attributes(event, destination, "publish"))
        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        try:
            publish()
        except BaseException as error:
            self._failed(span, error)
            span.end()
            raise
        finally:
            self._context.detach(token)
        when_idle(span.end)

    def lock_wait(self, event: Any, lock: Callable[[], bool]) -> bool:
        """Run ``lock()`` (a memory's lock call) in a ``lock workflow`` span; its answer.

        Records the wait as ``arvo.lock.wait_ms`` on the span and ``arvo.memory.lock.wait``
        for the event's topic. Raises what ``lock`` raises.
        """
        span = self._tracer.start_span("lock workflow", None, self._kinds[2])
        started = time.perf_counter()
        acquired = False
        try:
            acquired = lock()
        except BaseException as error:
            self._failed(span, error)
            raise
        finally:
            waited = time.perf_counter() - started
            span.set_attributes({LOCK_WAIT_MS: waited * 1000, LOCK_ACQUIRED: acquired})
            span.end()
            if self._metering:
                self.instruments.lock_waited(str(getattr(event, "to", "")), waited, acquired)
        return acquired

    # -- context ----------------------------------------------------------------------

    def _parent_of(self, event: Any) -> Context:
        # The publishing code's span if there is one, else the event's own trace context.
        current: Context = self._context.get_current()
        if self._trace.get_current_span(current).get_span_context().is_valid:
            return current
        return self._extracted(event)

    def _extracted(self, event: Any) -> Context:
        traceparent = getattr(event, "traceparent", None)
        if not isinstance(traceparent, str):
            return self._empty
        carrier = {"traceparent": traceparent}
        tracestate = getattr(event, "tracestate", None)
        if isinstance(tracestate, str):
            carrier["tracestate"] = tracestate
        extracted: Context = self._extract(carrier, self._empty)
        return extracted

    def _stamped(self, event: Any, context: Context) -> Any:
        # The event with ``context`` in its traceparent/tracestate. An event that cannot
        # carry them (not a Struct with those fields) goes as it is; an existing
        # traceparent is never erased by a context that has none to write.
        carrier: dict[str, str] = {}
        self._inject(carrier, context)
        traceparent = carrier.get("traceparent")
        if traceparent is None:
            return event
        tracestate = carrier.get("tracestate")
        if (
            getattr(event, "traceparent", None) == traceparent
            and getattr(event, "tracestate", None) == tracestate
        ) or not isinstance(event, msgspec.Struct):
            return event
        if "traceparent" not in event.__struct_fields__:
            return event
        return msgspec.structs.replace(event, traceparent=traceparent, tracestate=tracestate)

    def _failed(self, span: Span, error: BaseException) -> None:
        if span.is_recording():
            status, code = self._error
            span.record_exception(error)
            span.set_attribute(ERROR_TYPE, type(error).__qualname__)
            span.set_status(status(code, f"{type(error).__name__}: {error}"))


class Executions:
    """The executions of one event by one handler: a CONSUMER span each, and their figures.

    :meth:`call` gives the ``call()`` the retry loop repeats. Each call is one execution,
    numbered (``arvo.attempt``), timed into ``arvo.handler.duration`` and run in its own
    ``process <topic>`` CONSUMER span, parented from the event's context (which the
    broker made current), so retries are siblings. A failed execution's span ends with
    it; the successful one stays open and current, so that the events published next
    (the outputs) are its children, until :meth:`finish`. Used by one thread at a time
    (the worker that runs the event).
    """

    __slots__ = ("_open", "_telemetry", "_topic", "attempt")

    def __init__(self, telemetry: Telemetry, topic: str) -> None:
        self._telemetry = telemetry
        self._topic = topic
        self._open: tuple[Span, Token[Context]] | None = None
        self.attempt = 0

    def call(self, execute: Callable[[Any], T], event: Any) -> Callable[[], T]:
        """``call()``: one more execution of ``execute(event)``."""
        return functools.partial(self._execute, execute, event)

    def finish(self, error: BaseException | None = None) -> None:
        """End the successful execution's span (failed with ``error``, if given). Idempotent."""
        if self._open is not None:
            span, token = self._open
            self._open = None
            self._telemetry.end_span(span, token, error)

    def _execute(self, execute: Callable[[Any], T], event: Any) -> T:
        self.attempt += 1
        telemetry = self._telemetry
        run = functools.partial(self._timed if telemetry.metering else _plain, execute, event)
        if not telemetry.tracing:
            return run()
        value, span, token = telemetry.consumer_span(event, self._topic, run, self.attempt)
        self._open = (span, token)
        return value

    def _timed(self, execute: Callable[[Any], T], event: Any) -> T:
        instruments = self._telemetry.instruments
        started = time.perf_counter()
        attributes = instruments.topic(self._topic)
        try:
            return execute(event)
        except BaseException as error:
            attributes = instruments.with_error(self._topic, error)
            raise
        finally:
            instruments.handler_duration.record(time.perf_counter() - started, attributes)


def _plain(execute: Callable[[Any], T], event: Any) -> T:
    return execute(event)


def _records(provider: object) -> bool:
    # The API package holds only no-op and proxy providers; anything else is an SDK's.
    return not type(provider).__module__.startswith(
        ("opentelemetry.trace", "opentelemetry.metrics")
    )


def _version() -> str | None:
    try:
        return metadata.version("arvo-concurrent")
    except metadata.PackageNotFoundError:
        return None
