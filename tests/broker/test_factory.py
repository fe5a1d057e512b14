"""create_concurrent_event_broker and resolve: the TypeScript event_broker_factory.test.ts suite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from arvo_concurrent.arvo import (
    ArvoEvent,
    ContractViolation,
    create_arvo_event,
    create_arvo_event_factory,
    create_arvo_orchestrator_event_factory,
)
from arvo_concurrent.broker.errors import ResolveError, RoutingError
from arvo_concurrent.broker.factory import create_concurrent_event_broker
from arvo_concurrent.memory import ConcurrentMachineMemory
from tests.arvo.contracts import (
    add_contract,
    average_workflow_contract,
    product_contract,
    weighted_average_contract,
)
from tests.arvo.handlers import (
    TEST_SOURCE,
    add_handler,
    average_orchestrator,
    product_handler,
    weighted_average_resumable,
)
from tests.broker.support import Errors

ADD = create_arvo_event_factory(add_contract.version("1.0.0"))
PRODUCT = create_arvo_event_factory(product_contract.version("1.0.0"))
AVERAGE = create_arvo_orchestrator_event_factory(average_workflow_contract.version("1.0.0"))
WEIGHTED = create_arvo_orchestrator_event_factory(weighted_average_contract.version("1.0.0"))


@pytest.fixture
def memory() -> Iterator[ConcurrentMachineMemory]:
    with ConcurrentMachineMemory() as mem:
        yield mem


def add_event(numbers: list[float], source: str = TEST_SOURCE) -> ArvoEvent:
    return ADD.accepts(source=source, data={"numbers": numbers})


def bad_product_event() -> ArvoEvent:
    """A product event whose data breaks the contract (TS test 7's construction)."""
    good = PRODUCT.accepts(source=TEST_SOURCE, data={"numbers": [1, 2]})
    return create_arvo_event(
        **{
            **good.to_dict(),
            "data": {"numbers": []},
            "id": {"deduplication": "ARVO_MANAGED", "value": "bad-product"},
        }
    )


def test_basic_handler_execution() -> None:
    with create_concurrent_event_broker([{"handler": add_handler()}]) as handle:
        result = handle.resolve(add_event([1, 2, 3]), timeout=10)
    assert result is not None
    assert result.type == "evt.calculator.add.success"
    assert result.data["result"] == 6
    assert result.to == TEST_SOURCE


def test_multiple_handlers_coordinate_an_orchestrated_workflow(
    memory: ConcurrentMachineMemory,
) -> None:
    handlers: list[dict[str, Any]] = [
        {"handler": add_handler()},
        {"handler": product_handler()},
        {"handler": average_orchestrator(memory)},
    ]
    with create_concurrent_event_broker(handlers) as handle:
        init = AVERAGE.init(
            source=TEST_SOURCE, data={"numbers": [2, 4, 6, 8], "parentSubject$$": None}
        )
        result = handle.resolve(init, timeout=10)
    assert result is not None
    assert result.type == "arvo.orc.workflow.average.done"
    assert result.data["average"] == 5
    assert result.data["success"] is True


def test_input_middleware_transforms_the_event() -> None:
    def double(event: ArvoEvent) -> ArvoEvent:
        numbers = [n * 2 for n in event.data["numbers"]]
        return ADD.accepts(source=event.source, subject=event.subject, data={"numbers": numbers})

    handlers = [{"handler": add_handler(), "middleware": {"input": [double]}}]
    with create_concurrent_event_broker(handlers) as handle:
        result = handle.resolve(add_event([1, 2, 3]), timeout=10)
    assert result is not None
    assert result.data["result"] == 12


def test_input_middleware_returning_none_keeps_the_event() -> None:
    called = threading.Event()
    handlers = [{"handler": add_handler(), "middleware": {"input": [lambda e: called.set()]}}]
    with create_concurrent_event_broker(handlers) as handle:
        result = handle.resolve(add_event([1, 2, 3]), timeout=10)
    assert called.is_set()
    assert result is not None
    assert result.data["result"] == 6


def test_per_event_output_middleware_transforms_each_output() -> None:
    def times_ten(source: ArvoEvent, output: ArvoEvent) -> ArvoEvent:
        return create_arvo_event(
            **{**output.to_dict(), "data": {"result": output.data["result"] * 10}}
        )

    handlers = [{"handler": add_handler(), "middleware": {"output": [times_ten]}}]
    with create_concurrent_event_broker(handlers) as handle:
        request = add_event([1, 2, 3])
        result = handle.resolve(request, timeout=10)
    assert result is not None
    assert result.data["result"] == 60
    assert (result.to, result.subject, result.source) == (
        TEST_SOURCE,
        request.subject,
        "com.calculator.add",
    )


def test_bulk_output_middleware_sees_every_output() -> None:
    def plus_hundred(source: ArvoEvent, outputs: list[ArvoEvent]) -> list[ArvoEvent]:
        return [
            create_arvo_event(**{**o.to_dict(), "data": {"result": o.data["result"] + 100}})
            for o in outputs
        ]

    handlers = [{"handler": add_handler(), "middleware": {"output": plus_hundred}}]
    with create_concurrent_event_broker(handlers) as handle:
        result = handle.resolve(add_event([1, 2, 3]), timeout=10)
    assert result is not None
    assert result.data["result"] == 106


def test_a_contract_violation_is_thrown_at_once_by_default() -> None:
    errors = Errors()
    handlers = [{"handler": product_handler(), "retry": {"max_retries": 3}}]
    handle = create_concurrent_event_broker(handlers, on_broker_error=errors)
    with handle:
        with pytest.raises(ResolveError) as raised:
            handle.resolve(bad_product_event(), timeout=10)
        stats = handle.handler_stats("com.calculator.product")
    assert len(errors.calls) == 1
    assert isinstance(errors.calls[0][0], ContractViolation)
    # resolve says why it got nothing: the very error on_broker_error was told about.
    assert raised.value.errors == tuple(errors.calls)
    assert "ContractViolation" in str(raised.value)
    assert stats is not None
    assert (stats.executions, stats.failed) == (1, 1)


def test_retry_on_handler_failure_runs_one_plus_max_retries_times_with_exact_waits() -> None:
    errors = Errors()
    waits: list[float] = []
    handlers = [
        {
            "handler": product_handler(),
            "retry": {"max_retries": 3, "initial_delay_ms": 10, "backoff_exponent": 1.5},
            "on_error": lambda error, info: "RETRY",
        }
    ]
    handle = create_concurrent_event_broker(handlers, on_broker_error=errors, sleep=waits.append)
    with handle:
        with pytest.raises(ResolveError):
            handle.resolve(bad_product_event(), timeout=10)
        stats = handle.handler_stats("com.calculator.product")
    assert stats is not None
    assert (stats.executions, stats.retries, stats.failed) == (4, 3, 1)
    assert waits == pytest.approx([0.010, 0.015, 0.0225])
    assert len(errors.calls) == 1
    assert "after 4 attempt(s) (exhausted)" in errors.calls[0][0].__notes__[0]


def test_on_error_suppress_drops_the_event_without_a_broker_error() -> None:
    errors = Errors()
    handlers = [{"handler": product_handler(), "on_error": lambda error, info: "SUPPRESS"}]
    handle = create_concurrent_event_broker(handlers, on_broker_error=errors)
    with handle:
        with pytest.raises(ResolveError, match="no final event") as raised:
            handle.resolve(bad_product_event(), timeout=10)
        assert handle.resolve(bad_product_event(), timeout=10, missing="none") is None
        stats = handle.handler_stats("com.calculator.product")
    assert errors.calls == []
    assert raised.value.errors == ()
    assert stats is not None
    assert (stats.executions, stats.suppressed) == (2, 2)


def test_on_error_throw_reports_the_error() -> None:
    errors = Errors()
    handlers = [{"handler": product_handler(), "on_error": lambda error, info: "THROW"}]
    handle = create_concurrent_event_broker(handlers, on_broker_error=errors)
    with handle, pytest.raises(ResolveError) as raised:
        handle.resolve(bad_product_event(), timeout=10)
    assert len(errors.calls) == 1
    assert raised.value.errors == tuple(errors.calls)


def test_an_async_on_error_is_a_clear_error_never_a_retry() -> None:
    errors = Errors()

    async def on_error(error: BaseException, info: Any) -> str:
        return "RETRY"

    handlers = [{"handler": product_handler(), "on_error": on_error}]
    with create_concurrent_event_broker(handlers, on_broker_error=errors) as handle:
        with pytest.raises(ResolveError, match="OnErrorAnswerError"):
            handle.resolve(bad_product_event(), timeout=10)
        stats = handle.handler_stats("com.calculator.product")
    assert stats is not None
    assert stats.executions == 1
    assert "must return 'RETRY', 'SUPPRESS', 'THROW' or None" in errors.messages[0]


def test_handler_config_overrides_the_default_config() -> None:
    seen: list[str] = []
    handlers = [
        {"handler": add_handler(), "middleware": {"input": [lambda e: seen.append("handler")]}}
    ]
    default = {"middleware": {"input": [lambda e: seen.append("default")]}}
    with create_concurrent_event_broker(handlers, default_handler_config=default) as handle:
        handle.resolve(add_event([1]), timeout=10)
    assert seen == ["handler"]


def test_on_broker_error_catches_routing_failures_in_the_publisher() -> None:
    errors = Errors()
    with create_concurrent_event_broker([{"handler": add_handler()}], on_broker_error=errors) as h:
        h.broker.publish(PRODUCT.accepts(source=TEST_SOURCE, data={"numbers": [1, 2]}))
        # Routing happens in the publisher's thread, so the report is already there.
        assert len(errors.calls) == 1
    assert "Routing failed" in errors.messages[0]
    assert "com.calculator.add" in errors.messages[0]


def test_on_domained_events_captures_the_human_approval_request(
    memory: ConcurrentMachineMemory,
) -> None:
    domained: list[dict[str, Any]] = []
    handlers: list[dict[str, Any]] = [
        {"handler": add_handler()},
        {"handler": product_handler()},
        {"handler": weighted_average_resumable(memory)},
    ]
    init = WEIGHTED.init(
        source=TEST_SOURCE,
        data={
            "input": [{"value": 10, "weight": 0.5}, {"value": 20, "weight": 0.5}],
            "parentSubject$$": None,
        },
    )
    with create_concurrent_event_broker(handlers, on_domained_events=domained.append) as handle:
        # The workflow pauses for a human: no final event, and that is the point.
        assert handle.resolve(init, timeout=10, missing="none") is None
        assert len(domained) == 1
        assert domained[0]["broker"] is handle.broker
    event = domained[0]["event"]
    assert event.type == "com.human.approval"
    assert domained[0]["domain"] == event.domain == "human.interaction"


def test_two_concurrent_resolves_from_different_sources_both_complete() -> None:
    with create_concurrent_event_broker([{"handler": add_handler(), "prefetch": 2}]) as handle:
        first = handle.resolve_async(add_event([1, 2], source="test.test.test"))
        second = handle.resolve_async(add_event([3, 4], source="test.test.test2"))
        results = first.result(timeout=10), second.result(timeout=10)
    assert [(r.to, r.data["result"]) for r in results] == [
        ("test.test.test", 3),
        ("test.test.test2", 7),
    ]


def test_wait_for_idle_after_a_publish() -> None:
    replies: list[ArvoEvent] = []
    with create_concurrent_event_broker([{"handler": add_handler()}]) as handle:
        handle.broker.subscribe(lambda e, publish: replies.append(e), topic=TEST_SOURCE)
        handle.broker.publish(add_event([1, 2, 3]))
        handle.broker.wait_for_idle(timeout=5)
    assert [r.data["result"] for r in replies] == [6]


def test_resolve_raises_the_routing_error_when_no_handler_answers() -> None:
    errors = Errors()
    with create_concurrent_event_broker([{"handler": add_handler()}], on_broker_error=errors) as h:
        event = PRODUCT.accepts(source=TEST_SOURCE, data={"numbers": [1, 2]})
        with pytest.raises(ResolveError, match="Routing failed") as raised:
            h.resolve(event)
        assert h.resolve(event, missing="none") is None
    [(error, about)] = raised.value.errors
    assert isinstance(error, RoutingError)
    assert about is event
    assert raised.value.__cause__ is error
    assert "Routing failed" in errors.messages[0]


def test_resolve_refuses_a_source_that_is_a_handler_topic() -> None:
    with create_concurrent_event_broker([{"handler": add_handler()}]) as handle:
        event = add_event([1], source="com.calculator.add")
        with pytest.raises(ValueError, match="event source cannot be one of the handlers"):
            handle.resolve(event)


def test_the_broker_is_reachable_from_the_handle() -> None:
    handle = create_concurrent_event_broker([{"handler": add_handler()}])
    broker, resolve = handle
    with handle:
        assert "com.calculator.add" in broker.topics
        assert resolve(add_event([2, 2]), timeout=10).data["result"] == 4


def test_complex_workflow_with_prefetch_ten(memory: ConcurrentMachineMemory) -> None:
    handlers: list[dict[str, Any]] = [
        {"handler": add_handler()},
        {"handler": product_handler()},
        {"handler": average_orchestrator(memory)},
    ]
    with create_concurrent_event_broker(handlers, default_handler_config={"prefetch": 10}) as h:
        init = AVERAGE.init(
            source=TEST_SOURCE, data={"numbers": [10, 20, 30, 40, 50], "parentSubject$$": None}
        )
        result = h.resolve(init, timeout=10)
        stats = h.broker.get_stats("com.calculator.add")
        assert stats is not None
        assert stats.prefetch == 10
    assert result is not None
    assert result.data["average"] == 30
    assert result.data["success"] is True


def test_duplicate_handler_sources_are_a_subscription_conflict() -> None:
    with pytest.raises(Exception, match="Subscription conflict"):
        create_concurrent_event_broker([{"handler": add_handler()}, {"handler": add_handler()}])
