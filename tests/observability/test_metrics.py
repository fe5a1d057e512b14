"""Metrics through the OpenTelemetry metrics API, read back with an in-memory reader."""

from __future__ import annotations

import threading
from typing import Any

from arvo_concurrent import (
    ArvoEvent,
    ConcurrentEventBroker,
    ConcurrentMachineMemory,
    create_arvo_event,
    create_concurrent_event_broker,
)
from tests.observability.support import Recorded, points
from tests.observability.workflow import SERVICE, WORKFLOW, FlakyService, start, workflow

WAIT_S = 30.0
TOPIC = "com.test.metrics"


def _topic(topic: str, **more: Any) -> dict[str, Any]:
    return {"messaging.system": "arvo", "messaging.destination.name": topic, **more}


def _total(otel_metrics: dict[str, list[Any]], name: str, attributes: dict[str, Any]) -> int:
    return sum(point.value for point in points(otel_metrics, name, attributes))


def _event(n: int = 0) -> ArvoEvent:
    return create_arvo_event(type=TOPIC, source="test.metrics", subject="s", data={"n": n})


class Failing:
    """A handler whose every execution raises."""

    source = TOPIC

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        raise TimeoutError(f"no answer for {event.id}")


def test_a_resolve_counts_handled_retried_durations_queue_and_lock_waits(otel: Recorded) -> None:
    with (
        ConcurrentMachineMemory() as memory,
        create_concurrent_event_broker(
            [
                {"handler": workflow(memory)},
                {"handler": FlakyService(failures=1), "retry": {"max_retries": 2}},
            ],
            on_domained_events=lambda notice: None,
            telemetry=otel.telemetry,
            sleep=lambda seconds: None,
        ) as handle,
    ):
        assert handle.resolve(start(2), timeout=WAIT_S).data == {"n": 4}
    metrics = otel.metrics()

    assert _total(metrics, "arvo.events.handled", _topic(WORKFLOW)) == 2  # init + reply
    assert _total(metrics, "arvo.events.handled", _topic(SERVICE)) == 1
    assert _total(metrics, "arvo.events.retried", _topic(SERVICE)) == 1
    assert points(metrics, "arvo.events.failed") == []
    [failed_run] = points(
        metrics, "arvo.handler.duration", _topic(SERVICE, **{"error.type": "ConnectionError"})
    )
    assert failed_run.count == 1
    durations = points(metrics, "arvo.handler.duration", _topic(SERVICE))
    assert sum(point.count for point in durations) == 2  # both executions
    [queued] = points(metrics, "arvo.queue.wait", _topic(WORKFLOW))
    assert queued.count == 2
    assert queued.min >= 0
    [locks] = points(metrics, "arvo.memory.lock.wait", _topic(WORKFLOW))
    assert locks.count == 2
    assert locks.attributes["arvo.lock.acquired"] is True


def test_failures_and_suppressions_are_counted_per_topic(otel: Recorded) -> None:
    reported: list[Exception] = []
    handlers = [{"handler": Failing(), "retry": {"max_retries": 1}}]
    with create_concurrent_event_broker(
        handlers,
        on_broker_error=lambda error, event: reported.append(error),
        telemetry=otel.telemetry,
        sleep=lambda seconds: None,
    ) as handle:
        handle.broker.publish(_event())
        handle.broker.wait_for_idle(WAIT_S)
    suppressing = [{"handler": Failing(), "on_error": lambda error, info: "SUPPRESS"}]
    with create_concurrent_event_broker(suppressing, telemetry=otel.telemetry) as handle:
        handle.broker.publish(_event())
        handle.broker.wait_for_idle(WAIT_S)
    metrics = otel.metrics()

    assert len(reported) == 1
    assert (
        _total(metrics, "arvo.events.failed", _topic(TOPIC, **{"error.type": "TimeoutError"})) == 1
    )
    assert _total(metrics, "arvo.events.retried", _topic(TOPIC)) == 1
    suppressed = _topic(TOPIC, **{"arvo.drop.reason": "suppressed"})
    assert _total(metrics, "arvo.events.dropped", suppressed) == 1
    assert points(metrics, "arvo.events.handled") == []


def test_in_flight_and_queued_are_observed_and_dropped_events_counted(otel: Recorded) -> None:
    entered, release = threading.Event(), threading.Event()
    reported: list[Exception] = []

    def blocking(event: Any, publish: Any) -> None:
        entered.set()
        assert release.wait(WAIT_S)

    with ConcurrentEventBroker(
        on_error=lambda error, event: reported.append(error), telemetry=otel.telemetry
    ) as broker:
        unsubscribe = broker.subscribe(blocking, topic=TOPIC, prefetch=1)
        for n in range(3):
            broker.publish(_event(n))
        assert entered.wait(WAIT_S)
        busy = otel.metrics()
        unsubscribe()  # the two waiting events are dropped
        release.set()
        broker.wait_for_idle(WAIT_S)
    after = otel.metrics()

    assert [p.value for p in points(busy, "arvo.events.in_flight", _topic(TOPIC))] == [3]
    assert [p.value for p in points(busy, "arvo.events.queued", _topic(TOPIC))] == [2]
    dropped = _topic(TOPIC, **{"arvo.drop.reason": "unsubscribed"})
    assert len(reported) == 2
    assert _total(after, "arvo.events.dropped", dropped) == 2
    # Observed again once the topic is gone: nothing in flight for it any more.
    assert [p.value for p in points(after, "arvo.events.in_flight", _topic(TOPIC))] in ([], [0])


def test_an_input_middleware_failure_counts_as_failed_without_an_execution(
    otel: Recorded,
) -> None:
    def refuse(event: ArvoEvent) -> ArvoEvent:
        raise ValueError("not for us")

    handlers = [{"handler": Failing(), "middleware": {"input": [refuse]}}]
    with create_concurrent_event_broker(
        handlers, on_broker_error=lambda error, event: None, telemetry=otel.telemetry
    ) as handle:
        handle.broker.publish(_event())
        handle.broker.wait_for_idle(WAIT_S)
    metrics = otel.metrics()
    failed = _topic(TOPIC, **{"error.type": "MiddlewareError"})
    assert _total(metrics, "arvo.events.failed", failed) == 1
    assert points(metrics, "arvo.handler.duration") == []  # the handler never ran
    assert otel.named("process " + TOPIC) == []  # no execution, so no CONSUMER span
