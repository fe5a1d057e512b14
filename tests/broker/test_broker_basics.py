"""ConcurrentEventBroker: the TypeScript event_broker.test.ts cases, ported to threads.

Events are plain stand-ins (``tests.broker.support.Ev``): the broker reads only ``.to``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from arvo_concurrent.broker import (
    ConcurrentEventBroker,
    DomainedEventError,
    IdleTimeoutError,
    InvalidEventError,
    ResolveTimeoutError,
    RoutingError,
    SubscriptionConflictError,
    TopicStats,
)
from tests.broker.support import WAIT_S, Counter, Errors, Ev


def test_subscribe_registers_handler(broker: ConcurrentEventBroker) -> None:
    unsubscribe = broker.subscribe(Counter(), topic="test.topic")
    assert "test.topic" in broker.topics
    unsubscribe()
    assert "test.topic" not in broker.topics


def test_subscribe_throws_on_duplicate_topic(broker: ConcurrentEventBroker) -> None:
    broker.subscribe(Counter(), topic="test.topic")
    with pytest.raises(SubscriptionConflictError, match="Subscription conflict") as info:
        broker.subscribe(Counter(), topic="test.topic")
    assert isinstance(info.value, ValueError)
    assert info.value.topic == "test.topic"
    assert "'test.topic'" in str(info.value)


@pytest.mark.parametrize("event", [Ev(to=None), Ev(to=""), object()])
def test_publish_throws_on_missing_to_field(broker: ConcurrentEventBroker, event: Any) -> None:
    with pytest.raises(InvalidEventError, match="Missing required 'to' field") as info:
        broker.publish(event)
    assert isinstance(info.value, ValueError)
    assert info.value.event is event


def test_publish_throws_on_a_non_string_to(broker: ConcurrentEventBroker) -> None:
    with pytest.raises(InvalidEventError, match="must be a string, got int 42"):
        broker.publish(Ev(to=42))


def test_publish_calls_error_handler_on_missing_subscription(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    event = Ev(to="nonexistent.topic")
    broker.publish(event)
    # Synchronous: reported before publish returned.
    assert len(errors.calls) == 1
    error, reported = errors.calls[0]
    assert isinstance(error, RoutingError)
    assert "Routing failed" in str(error)
    assert "Available topics: none" in str(error)
    assert reported is event
    assert error.event is event
    assert error.topic == "nonexistent.topic"


def test_routing_failure_lists_the_available_topics(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    broker.subscribe(Counter(), topic="a")
    broker.subscribe(Counter(), topic="b")
    broker.publish(Ev(to="c"))
    error = errors.errors[0]
    assert isinstance(error, RoutingError)
    assert "Available topics: [a, b]" in str(error)
    assert error.available == ("a", "b")
    broker.wait_for_idle(WAIT_S)


def test_publish_routes_event_to_handler(broker: ConcurrentEventBroker, errors: Errors) -> None:
    seen: list[tuple[Any, Any]] = []
    broker.subscribe(lambda event, publish: seen.append((event, publish)), topic="test.topic")
    event = Ev(to="test.topic", id=7)
    broker.publish(event)
    broker.wait_for_idle(WAIT_S)
    assert len(seen) == 1
    assert seen[0][0] is event
    assert callable(seen[0][1])
    assert errors.calls == []


def test_wait_for_idle_waits_for_all_work(broker: ConcurrentEventBroker) -> None:
    gate = threading.Event()
    handler = Counter(gate)
    broker.subscribe(handler, topic="test.topic", prefetch=2)
    for i in range(3):
        broker.publish(Ev(to="test.topic", id=i))
    assert handler.count == 0
    gate.set()
    broker.wait_for_idle(WAIT_S)
    assert handler.count == 3


def test_wait_for_idle_times_out(broker: ConcurrentEventBroker) -> None:
    gate = threading.Event()
    broker.subscribe(Counter(gate), topic="test.topic")
    broker.publish(Ev(to="test.topic"))
    with pytest.raises(IdleTimeoutError, match="timed out") as info:
        broker.wait_for_idle(timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert info.value.in_flight == 1
    gate.set()
    broker.wait_for_idle(WAIT_S)


def test_get_stats_returns_queue_info(broker: ConcurrentEventBroker) -> None:
    broker.subscribe(Counter(), topic="test.topic", prefetch=5)
    assert broker.get_stats("test.topic") == TopicStats(
        topic="test.topic", prefetch=5, running=0, waiting=0, in_flight=0, workers=0
    )


def test_get_stats_returns_none_for_unknown_topic(broker: ConcurrentEventBroker) -> None:
    assert broker.get_stats("unknown") is None


def test_stats_returns_all_topics(broker: ConcurrentEventBroker) -> None:
    broker.subscribe(Counter(), topic="topic1")
    broker.subscribe(Counter(), topic="topic2", prefetch=4)
    stats = broker.stats
    assert len(stats) == 2
    assert {s.topic: s.prefetch for s in stats} == {"topic1": 1, "topic2": 4}


def test_clear_removes_all_subscriptions(broker: ConcurrentEventBroker) -> None:
    broker.subscribe(Counter(), topic="topic1")
    broker.subscribe(Counter(), topic="topic2")
    assert len(broker.topics) == 2
    broker.clear()
    assert broker.topics == []
    assert broker.stats == []


def test_handler_can_publish_cascading_events(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    second = Counter()
    broker.subscribe(lambda event, publish: publish(Ev(to="topic2", id=event.id)), topic="topic1")
    broker.subscribe(second, topic="topic2")
    broker.publish(Ev(to="topic1", id=3))
    broker.wait_for_idle(WAIT_S)
    assert second.events == [Ev(to="topic2", id=3)]
    assert errors.calls == []


def test_error_handler_called_on_handler_exception(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    def failing(event: Any, publish: Any) -> None:
        raise RuntimeError("Handler failed")

    broker.subscribe(failing, topic="test.topic")
    event = Ev(to="test.topic")
    broker.publish(event)
    broker.wait_for_idle(WAIT_S)
    assert len(errors.calls) == 1
    error, reported = errors.calls[0]
    assert str(error) == "Handler failed"
    assert reported is event


def test_report_hands_an_error_to_on_error(broker: ConcurrentEventBroker, errors: Errors) -> None:
    event, error = Ev(to="t"), RuntimeError("from a layer above")
    broker.report(error, event)
    assert errors.calls == [(error, event)]


def test_errors_for_the_layers_above_name_their_event() -> None:
    event = Ev(to="t")
    timeout = ResolveTimeoutError(event, 1.5, 3)
    assert isinstance(timeout, TimeoutError)
    assert "timed out after 1.5 s" in str(timeout)
    assert (timeout.event, timeout.in_flight) == (event, 3)
    domained = DomainedEventError(event, "no callback takes it")
    assert isinstance(domained, RuntimeError)
    assert "no callback takes it" in str(domained)
    assert (domained.event, domained.domain) == (event, None)
