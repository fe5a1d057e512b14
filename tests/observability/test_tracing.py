"""Traces through the broker: one resolve is one tree, across threads, retries and domains."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, StatusCode

from arvo_concurrent import (
    ArvoEvent,
    ConcurrentEventBroker,
    ConcurrentMachineMemory,
    MissingExtraError,
    create_arvo_event,
    create_concurrent_event_broker,
)
from arvo_concurrent.broker.errors import InvalidEventError
from arvo_concurrent.observability import Telemetry
from tests.observability.support import Recorded, recorded
from tests.observability.workflow import (
    AUDIT,
    CLIENT,
    NOTIFY,
    SERVICE,
    WORKFLOW,
    FlakyService,
    start,
    workflow,
)

WAIT_S = 30.0
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


def _tree(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> tuple[str, list[Any]]:
    children = sorted(
        (s for s in spans if s.parent is not None and s.parent.span_id == span.context.span_id),
        key=lambda s: s.start_time or 0,
    )
    return span.name, [_tree(child, spans) for child in children]


def _traceparent(span: ReadableSpan) -> str:
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def _resolve_through_the_workflow(otel: Recorded) -> tuple[ArvoEvent, list[dict[str, Any]]]:
    domained: list[dict[str, Any]] = []
    with (
        ConcurrentMachineMemory() as memory,
        create_concurrent_event_broker(
            [
                {"handler": workflow(memory)},
                {"handler": FlakyService(failures=1), "retry": {"max_retries": 2}},
            ],
            on_domained_events=domained.append,
            telemetry=otel.telemetry,
            sleep=lambda seconds: None,
        ) as handle,
    ):
        final = handle.resolve(start(3), timeout=WAIT_S)
    return final, domained


def test_one_resolve_through_an_orchestrator_a_retried_service_and_a_domain_is_one_tree(
    otel: Recorded,
) -> None:
    final, domained = _resolve_through_the_workflow(otel)
    assert final.data == {"n": 6}

    spans = otel.spans
    [root] = [span for span in spans if span.parent is None]
    lock: tuple[str, list[object]] = ("lock workflow", [])
    assert _tree(root, spans) == (
        "resolve " + WORKFLOW,
        [
            (
                "publish " + WORKFLOW,
                [
                    (
                        "process " + WORKFLOW,
                        [
                            lock,
                            ("publish " + SERVICE, [
                                ("process " + SERVICE, []),  # ConnectionError
                                ("process " + SERVICE, [  # the retry, a sibling
                                    ("publish " + WORKFLOW, [
                                        ("process " + WORKFLOW, [lock, ("publish " + CLIENT, [])])
                                    ])
                                ]),
                            ]),
                            ("publish " + AUDIT, []),
                        ],
                    )
                ],
            )
        ],
    )  # fmt: skip
    assert {span.context.trace_id for span in spans} == {root.context.trace_id}
    # Producer and consumer spans ran on different threads: the context crossed them
    # through the events' traceparent, which names the producer span.
    [audit] = otel.named("publish " + AUDIT)
    [notice] = domained
    assert notice["domain"] == AUDIT
    assert notice["event"].type == NOTIFY
    assert notice["event"].traceparent == _traceparent(audit)
    [completion] = otel.named("publish " + CLIENT)
    assert final.traceparent == _traceparent(completion)


def test_spans_carry_kinds_attempts_errors_and_cloudevents_attributes(otel: Recorded) -> None:
    final, _ = _resolve_through_the_workflow(otel)

    kinds = {span.name.split()[0]: span.kind for span in otel.spans}
    assert kinds == {
        "resolve": SpanKind.INTERNAL,
        "publish": SpanKind.PRODUCER,
        "process": SpanKind.CONSUMER,
        "lock": SpanKind.INTERNAL,
    }
    first, retry = sorted(otel.named("process " + SERVICE), key=lambda s: s.start_time or 0)
    [publish_service] = otel.named("publish " + SERVICE)
    # Both parented from the event's traceparent, which names the publish span.
    assert first.parent is not None
    assert retry.parent is not None
    assert first.parent.span_id == retry.parent.span_id == publish_service.context.span_id
    assert first.parent.is_remote
    assert (first.attributes or {})["arvo.attempt"] == 1
    assert (retry.attributes or {})["arvo.attempt"] == 2
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})["error.type"] == "ConnectionError"
    assert [event.name for event in first.events] == ["exception"]
    assert retry.status.status_code is StatusCode.UNSET

    [completion] = otel.named("publish " + CLIENT)
    attributes = dict(completion.attributes or {})
    assert attributes["messaging.system"] == "arvo"
    assert attributes["messaging.operation"] == "publish"
    assert attributes["messaging.destination.name"] == CLIENT
    assert attributes["cloudevents.event_type"] == final.type
    assert attributes["cloudevents.event_subject"] == final.subject
    assert attributes["cloudevents.event_source"] == WORKFLOW
    process = otel.named("process " + SERVICE)[0].attributes or {}
    assert process["messaging.operation"] == "process"
    assert process["cloudevents.event_type"] == SERVICE
    assert process["messaging.message.id"] == process["cloudevents.event_id"]

    for lock in otel.named("lock workflow"):
        lock_attributes = lock.attributes or {}
        assert lock_attributes["arvo.lock.acquired"] is True
        wait_ms = lock_attributes["arvo.lock.wait_ms"]
        assert isinstance(wait_ms, int | float)
        assert 0 <= wait_ms < WAIT_S * 1000


def _flagged(flags: str, tracestate: str | None = None) -> ArvoEvent:
    return create_arvo_event(
        type="com.test.flags",
        source="test.flags",
        subject="flags",
        data={},
        traceparent=f"00-{TRACE_ID}-{SPAN_ID}-{flags}",
        tracestate=tracestate,
    )


def _consume(otel: Recorded, event: ArvoEvent) -> ArvoEvent:
    seen: list[ArvoEvent] = []
    with ConcurrentEventBroker(telemetry=otel.telemetry) as broker:
        broker.subscribe(lambda got, publish: seen.append(got), topic="com.test.flags")
        broker.publish(event)
        broker.wait_for_idle(WAIT_S)
    [got] = seen
    return got


# W3C trace flags are two hex digits; bit 0 is "sampled", bit 1 "random" (level 2).
# "0a" (10) and "0b" (11) are what a base-10 parse gets wrong (it stops at the letter).
@pytest.mark.parametrize(
    ("flags", "sampled"), [("01", True), ("00", False), ("0a", False), ("0b", True)]
)
def test_trace_flags_are_read_as_hex(otel: Recorded, flags: str, sampled: bool) -> None:
    got = _consume(otel, _flagged(flags))  # the default sampler follows the parent's flag

    assert got.traceparent is not None
    version, trace_id, span_id, got_flags = got.traceparent.split("-")
    assert (version, trace_id) == ("00", TRACE_ID)  # the trace goes on, sampled or not
    assert bool(int(got_flags, 16) & 0x01) is sampled
    assert int(got_flags, 16) & 0x02 == int(flags, 16) & 0x02  # the random bit goes on
    if not sampled:
        assert otel.spans == ()
        return
    [publish] = otel.named("publish com.test.flags")
    [process] = otel.named("process com.test.flags")
    assert publish.parent is not None
    assert publish.parent.is_remote
    assert f"{publish.parent.span_id:016x}" == SPAN_ID
    assert publish.parent.trace_flags == int(flags, 16)
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id
    assert span_id == f"{publish.context.span_id:016x}"


def test_flags_0a_keep_their_unknown_bits_on_the_parent() -> None:
    for otel in recorded(ALWAYS_ON):  # records even an unsampled parent's children
        _consume(otel, _flagged("0a"))
        [publish] = otel.named("publish com.test.flags")
        assert publish.parent is not None
        assert publish.parent.trace_flags == 0x0A
        assert not publish.parent.trace_flags.sampled


def test_tracestate_is_read_and_carried_on(otel: Recorded) -> None:
    got = _consume(otel, _flagged("01", tracestate="vendor=abc,other=1"))

    [publish] = otel.named("publish com.test.flags")
    assert publish.parent is not None
    assert publish.parent.trace_state.get("vendor") == "abc"
    assert got.tracestate == "vendor=abc,other=1"


def test_a_publish_inside_the_callers_span_is_its_child(otel: Recorded) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as request:
        got = _consume(otel, _flagged("01"))
    [publish] = otel.named("publish com.test.flags")
    # The caller's span wins over the event's own traceparent.
    assert publish.parent is not None
    assert publish.parent.span_id == request.get_span_context().span_id
    assert got.traceparent == _traceparent(publish)


def test_events_that_cannot_carry_a_traceparent_still_get_spans(otel: Recorded) -> None:
    class Plain:
        to = "com.test.plain"

    seen: list[object] = []
    with ConcurrentEventBroker(telemetry=otel.telemetry) as broker:
        broker.subscribe(lambda got, publish: seen.append(got), topic="com.test.plain")
        event = Plain()
        broker.publish(event)
        broker.wait_for_idle(WAIT_S)
    assert seen == [event]
    spans = sorted(otel.spans, key=lambda span: span.start_time or 0)
    assert [span.name for span in spans] == ["publish com.test.plain", "process com.test.plain"]


def test_the_api_without_an_sdk_costs_nothing_and_changes_no_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The global providers are the API's no-op ones here: nothing would be recorded,
    # so the broker keeps no telemetry (and says so), and events go through untouched.
    event = _flagged("01", tracestate="vendor=abc")
    seen: list[ArvoEvent] = []
    with (
        caplog.at_level(logging.INFO, logger="arvo_concurrent.observability"),
        ConcurrentEventBroker(telemetry=Telemetry()) as broker,
    ):
        assert broker.telemetry is None
        [record] = caplog.records
        assert "runs without telemetry" in record.getMessage()
        broker.subscribe(lambda got, publish: seen.append(got), topic="com.test.flags")
        broker.publish(event)
        broker.wait_for_idle(WAIT_S)
    assert seen == [event]
    assert seen[0] is event


def test_tracing_and_metrics_are_on_separately(otel: Recorded) -> None:
    # An SDK tracer provider and the API's no-op meter: spans, and no metric calls.
    telemetry = Telemetry(tracer_provider=otel.tracer_provider)
    assert (telemetry.tracing, telemetry.metering) == (False, False)  # until bound
    with ConcurrentEventBroker(telemetry=telemetry) as broker:
        assert broker.telemetry is telemetry
        assert (telemetry.tracing, telemetry.metering) == (True, False)
    metrics_only = Telemetry(meter_provider=otel.meter_provider)
    with ConcurrentEventBroker(telemetry=metrics_only) as broker:
        assert broker.telemetry is metrics_only
        assert (metrics_only.tracing, metrics_only.metering) == (False, True)
        broker.subscribe(lambda got, publish: None, topic="com.test.flags")
        broker.publish(_flagged("01"))
        broker.wait_for_idle(WAIT_S)
    assert otel.spans == ()
    assert "arvo.queue.wait" in otel.metrics()


def test_telemetry_without_the_otel_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("opentelemetry", "opentelemetry.trace"):  # as if never installed
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r"pip install 'arvo-concurrent\[otel\]'") as info:
        Telemetry()
    assert info.value.extra == "otel"
    assert info.value.package == "opentelemetry-api"
    assert isinstance(info.value, ImportError)


def test_resolve_async_opens_the_same_root_span(otel: Recorded) -> None:
    with ConcurrentMachineMemory() as memory:
        handlers = [{"handler": workflow(memory)}, {"handler": FlakyService(failures=0)}]
        with create_concurrent_event_broker(
            handlers, on_domained_events=lambda notice: None, telemetry=otel.telemetry
        ) as handle:
            final = handle.resolve_async(start(2)).result(timeout=WAIT_S)
    assert final.data == {"n": 4}
    [root] = [span for span in otel.spans if span.parent is None]
    assert root.name == "resolve " + WORKFLOW
    assert final.traceparent is not None
    assert final.traceparent.split("-")[1] == f"{root.context.trace_id:032x}"


def test_a_refused_publish_ends_its_span_as_failed(otel: Recorded) -> None:
    class Nowhere:
        to = None

    with (
        ConcurrentEventBroker(telemetry=otel.telemetry) as broker,
        pytest.raises(InvalidEventError),
    ):
        broker.publish(Nowhere())
    [span] = otel.spans
    assert span.name == "publish None"
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "InvalidEventError"


def test_an_output_middleware_failure_fails_the_execution_span_and_counts(
    otel: Recorded,
) -> None:
    def refuse(source: ArvoEvent, outputs: list[ArvoEvent]) -> list[ArvoEvent]:
        raise ConnectionError("audit store down")

    reported: list[Exception] = []
    handlers = [{"handler": FlakyService(failures=0), "middleware": {"output": refuse}}]
    request = create_arvo_event(type=SERVICE, source=CLIENT, subject="s", data={"n": 1})
    with create_concurrent_event_broker(
        handlers,
        on_broker_error=lambda error, event: reported.append(error),
        telemetry=otel.telemetry,
    ) as handle:
        handle.broker.publish(request)
        handle.broker.wait_for_idle(WAIT_S)
    [process] = otel.named("process " + SERVICE)
    assert process.status.status_code is StatusCode.ERROR
    assert (process.attributes or {})["error.type"] == "MiddlewareError"
    assert [type(error).__name__ for error in reported] == ["MiddlewareError"]
    assert otel.named("publish " + CLIENT) == []  # nothing was emitted
