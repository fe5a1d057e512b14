"""ConcurrentEventBroker scheduling: prefetch bounds, no head-of-line blocking, FIFO,
handlers that fail, bad subscriptions, many publishers."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pykka
import pytest

from arvo_concurrent.broker import (
    ConcurrentEventBroker,
    HandlerAbortedError,
    SubscriptionError,
    TopicStats,
)
from tests.broker.support import WAIT_S, Counter, Errors, Ev


class Concurrency:
    """A handler that holds every event on a gate and tracks how many run at once."""

    def __init__(self, saturation: int) -> None:
        self.gate = threading.Event()
        self.saturated = threading.Event()
        self.running = 0
        self.max_running = 0
        self.finished = 0
        self._saturation = saturation
        self._lock = threading.Lock()

    def __call__(self, event: Any, publish: Any) -> None:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            if self.running == self._saturation:
                self.saturated.set()
        assert self.gate.wait(WAIT_S)
        with self._lock:
            self.running -= 1
            self.finished += 1


@pytest.mark.parametrize("prefetch", [1, 3, 16])
def test_prefetch_controls_concurrency_exactly(
    broker: ConcurrentEventBroker, errors: Errors, prefetch: int
) -> None:
    handler = Concurrency(saturation=prefetch)
    broker.subscribe(handler, topic="t", prefetch=prefetch)
    total = 3 * prefetch + 1
    for i in range(total):
        broker.publish(Ev(to="t", id=i))
    # Exactly prefetch run at once while more wait: all of them enter, no more.
    assert handler.saturated.wait(WAIT_S)
    assert broker.get_stats("t") == TopicStats(
        topic="t",
        prefetch=prefetch,
        running=prefetch,
        waiting=total - prefetch,
        in_flight=total,
        workers=prefetch,
    )
    handler.gate.set()
    broker.wait_for_idle(WAIT_S)
    assert handler.max_running == prefetch
    assert handler.finished == total
    assert errors.calls == []
    stats = broker.get_stats("t")
    assert stats is not None
    assert (stats.running, stats.waiting, stats.in_flight) == (0, 0, 0)


def test_workers_start_lazily(broker: ConcurrentEventBroker) -> None:
    handler = Counter()
    broker.subscribe(handler, topic="t", prefetch=16)
    for i in range(5):
        broker.publish(Ev(to="t", id=i))
        broker.wait_for_idle(WAIT_S)
    # One event at a time never needs a second worker.
    stats = broker.get_stats("t")
    assert stats is not None
    assert stats.workers == 1
    assert handler.count == 5


def test_no_head_of_line_blocking_behind_a_slow_event(broker: ConcurrentEventBroker) -> None:
    slow_gate, slow_started = threading.Event(), threading.Event()
    fast_done = Counter()

    def handler(event: Any, publish: Any) -> None:
        if event.id == 0:
            slow_started.set()
            assert slow_gate.wait(WAIT_S)
        else:
            fast_done(event, publish)

    broker.subscribe(handler, topic="t", prefetch=3)
    broker.publish(Ev(to="t", id=0))
    assert slow_started.wait(WAIT_S)
    for i in range(1, 11):
        broker.publish(Ev(to="t", id=i))
    # All ten complete while the first event is still blocked.
    assert fast_done.wait_for(10)
    assert not slow_gate.is_set()
    stats = broker.get_stats("t")
    assert stats is not None
    assert stats.running >= 1
    slow_gate.set()
    broker.wait_for_idle(WAIT_S)


def test_events_beyond_prefetch_run_in_fifo_order(broker: ConcurrentEventBroker) -> None:
    gate = threading.Event()
    handler = Counter(gate)
    broker.subscribe(handler, topic="t", prefetch=1)
    events = [Ev(to="t", id=i) for i in range(50)]
    for event in events:
        broker.publish(event)
    gate.set()
    broker.wait_for_idle(WAIT_S)
    assert handler.events == events


@pytest.mark.parametrize(
    "error",
    [ValueError("bad value"), KeyError("k"), RuntimeError("boom"), ZeroDivisionError("zero")],
)
def test_a_failing_handler_is_reported_and_its_worker_keeps_serving(
    broker: ConcurrentEventBroker, errors: Errors, error: Exception
) -> None:
    served = Counter()

    def handler(event: Any, publish: Any) -> None:
        if event.id % 2:
            raise error
        served(event, publish)

    broker.subscribe(handler, topic="t", prefetch=1)
    for i in range(6):
        broker.publish(Ev(to="t", id=i))
    broker.wait_for_idle(WAIT_S)
    assert [e.id for e in served.events] == [0, 2, 4]
    assert [(err, ev.id) for err, ev in errors.calls] == [(error, 1), (error, 3), (error, 5)]
    stats = broker.get_stats("t")
    assert stats is not None
    assert stats.workers == 1


class CustomAbort(BaseException):
    """A BaseException of the user's own."""


class Bystander(pykka.ThreadingActor):
    """An actor of the host application, unrelated to the broker."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        return message


@pytest.mark.parametrize(
    "abort",
    [asyncio.CancelledError(), SystemExit(3), KeyboardInterrupt(), CustomAbort("stop")],
    ids=lambda abort: type(abort).__name__,
)
def test_a_handler_raising_a_base_exception_is_reported_and_stops_no_actor(
    broker: ConcurrentEventBroker, errors: Errors, abort: BaseException
) -> None:
    # Escaping a worker's message, a BaseException makes Pykka stop every actor in the
    # process: the host's own actors, other brokers, memory.
    bystander = Bystander.start()
    try:
        served = Counter()

        def handler(event: Any, publish: Any) -> None:
            if event.id == 1:
                raise abort
            served(event, publish)

        broker.subscribe(handler, topic="t", prefetch=1)
        for i in range(3):
            broker.publish(Ev(to="t", id=i))
        broker.wait_for_idle(WAIT_S)
        assert [e.id for e in served.events] == [0, 2]
        [(error, event)] = errors.calls
        assert isinstance(error, HandlerAbortedError)
        assert error.error is abort
        assert error.__cause__ is abort
        assert error.event == event == Ev(to="t", id=1)
        assert type(abort).__name__ in str(error)
        assert bystander.ask("still here?", timeout=WAIT_S) == "still here?"
        assert broker.topics == ["t"]
    finally:
        bystander.stop(timeout=WAIT_S)


def test_on_error_that_raises_is_logged_and_kills_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def on_error(error: Exception, event: Any) -> None:
        raise RuntimeError("on_error is broken")

    served = Counter()

    def handler(event: Any, publish: Any) -> None:
        if event.id == 0:
            raise ValueError("first fails")
        served(event, publish)

    with (
        caplog.at_level(logging.ERROR, logger="arvo_concurrent.broker"),
        ConcurrentEventBroker(on_error=on_error) as broker,
    ):
        broker.subscribe(handler, topic="t")
        broker.publish(Ev(to="t", id=0))
        broker.publish(Ev(to="nowhere"))
        broker.publish(Ev(to="t", id=1))
        broker.wait_for_idle(WAIT_S)
        assert served.count == 1
    logged = [r for r in caplog.records if "on_error raised" in r.getMessage()]
    assert len(logged) == 2
    assert {r.name for r in logged} == {"arvo_concurrent.broker"}


def test_without_on_error_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    def handler(event: Any, publish: Any) -> None:
        raise ValueError("nobody listens")

    with (
        caplog.at_level(logging.ERROR, logger="arvo_concurrent.broker"),
        ConcurrentEventBroker() as broker,
    ):
        broker.subscribe(handler, topic="t")
        broker.publish(Ev(to="t"))
        broker.wait_for_idle(WAIT_S)
    assert any(
        "nobody listens" in r.getMessage() and r.name == "arvo_concurrent.broker"
        for r in caplog.records
    )


@pytest.mark.parametrize("prefetch", [0, -1, 1.5, True, "2", None])
def test_prefetch_must_be_a_positive_int(broker: ConcurrentEventBroker, prefetch: Any) -> None:
    with pytest.raises(SubscriptionError, match="prefetch must be a positive int") as info:
        broker.subscribe(Counter(), topic="t", prefetch=prefetch)
    assert isinstance(info.value, ValueError)
    assert repr(prefetch) in str(info.value)
    assert info.value.topic == "t"
    assert broker.topics == []


@pytest.mark.parametrize("topic", ["", None, 5])
def test_topic_must_be_a_non_empty_string(broker: ConcurrentEventBroker, topic: Any) -> None:
    with pytest.raises(SubscriptionError, match="topic must be a non-empty string"):
        broker.subscribe(Counter(), topic=topic)


def test_handler_must_be_callable(broker: ConcurrentEventBroker) -> None:
    with pytest.raises(SubscriptionError, match="handler of topic 't' must be callable"):
        broker.subscribe("not a function", topic="t")  # type: ignore[arg-type]


def test_on_error_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_error must be callable"):
        ConcurrentEventBroker(on_error="log")  # type: ignore[arg-type]


def test_many_publishers_each_event_handled_exactly_once(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def handler(event: Any, publish: Any) -> None:
        if event.to == "a":
            publish(Ev(to="b", id=event.id))
        else:
            with lock:
                seen.append(event.id)

    broker.subscribe(handler, topic="a", prefetch=4)
    broker.subscribe(handler, topic="b", prefetch=2)
    start = threading.Barrier(4)

    def publisher(k: int) -> None:
        start.wait(WAIT_S)
        for i in range(250):
            broker.publish(Ev(to="a", id=k * 1000 + i))

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    broker.wait_for_idle(WAIT_S)
    assert sorted(seen) == sorted(k * 1000 + i for k in range(4) for i in range(250))
    assert errors.calls == []
