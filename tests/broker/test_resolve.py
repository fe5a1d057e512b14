"""resolve() under concurrency, timeouts, retries that hold a slot, and fan-out failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from arvo_concurrent.actors.worker import current_worker
from arvo_concurrent.arvo import (
    ArvoEvent,
    create_arvo_event_factory,
    create_arvo_orchestrator_event_factory,
)
from arvo_concurrent.broker import TopicStats
from arvo_concurrent.broker.errors import (
    DomainedEventError,
    HandlerAbortedError,
    InvalidEventError,
    ResolveError,
)
from arvo_concurrent.broker.factory import create_concurrent_event_broker
from arvo_concurrent.memory import ConcurrentMachineMemory
from tests.arvo.contracts import add_contract, average_workflow_contract
from tests.arvo.handlers import TEST_SOURCE, add_handler, average_orchestrator, product_handler
from tests.broker.support import ScriptedHandler, reply, scripted_event

ADD = create_arvo_event_factory(add_contract.version("1.0.0"))
AVERAGE = create_arvo_orchestrator_event_factory(average_workflow_contract.version("1.0.0"))
WAIT_S = 5.0


def test_fifty_concurrent_resolves_from_ten_threads_each_get_their_own_result() -> None:
    with ConcurrentMachineMemory() as memory:
        handlers = [
            {"handler": add_handler(), "prefetch": 4},
            {"handler": product_handler(), "prefetch": 4},
            {"handler": average_orchestrator(memory), "prefetch": 4},
        ]
        with create_concurrent_event_broker(handlers) as handle:

            def run(k: int) -> tuple[int, float]:
                numbers = [k, k + 2, k + 4]  # average k + 2
                init = AVERAGE.init(
                    source=TEST_SOURCE, data={"numbers": numbers, "parentSubject$$": None}
                )
                result = handle.resolve(init, timeout=30)
                assert result is not None
                assert result.subject == init.subject
                return k, result.data["average"]

            with ThreadPoolExecutor(max_workers=10) as pool:
                results = list(pool.map(run, range(50)))
    assert results == [(k, pytest.approx(k + 2)) for k in range(50)]


def test_concurrent_resolves_with_the_same_source_are_isolated() -> None:
    with create_concurrent_event_broker([{"handler": add_handler(), "prefetch": 3}]) as handle:
        futures = [
            handle.resolve_async(ADD.accepts(source=TEST_SOURCE, data={"numbers": [k]}))
            for k in range(20)
        ]
        totals = [f.result(timeout=10).data["result"] for f in futures]
    assert totals == list(range(20))


def test_a_resolve_whose_workflow_never_completes_times_out_cleanly() -> None:
    release = threading.Event()
    started = threading.Event()

    def stall(event: ArvoEvent) -> list[ArvoEvent]:
        started.set()
        release.wait(10)
        return []

    handler = ScriptedHandler("com.test.scripted", stall)
    with create_concurrent_event_broker([{"handler": handler}]) as handle:
        with pytest.raises(TimeoutError, match="timed out") as info:
            handle.resolve(scripted_event(), timeout=0.05)
        assert started.wait(WAIT_S)
        assert info.value.event.type == "com.test.scripted"  # type: ignore[attr-defined]
        release.set()
        handle.broker.wait_for_idle(timeout=5)


def test_a_retrying_event_keeps_its_prefetch_slot_during_the_backoff() -> None:
    in_backoff = threading.Event()
    resume = threading.Event()
    attempts: list[str] = []

    def flaky(event: ArvoEvent) -> list[ArvoEvent]:
        attempts.append(event.data["name"])
        if event.data["name"] == "first" and attempts.count("first") == 1:
            raise RuntimeError("transient")
        return []

    def sleep(seconds: float) -> None:
        in_backoff.set()
        resume.wait(10)

    handlers = [{"handler": ScriptedHandler("com.test.scripted", flaky), "prefetch": 1}]
    with create_concurrent_event_broker(handlers, sleep=sleep) as handle:
        handle.broker.publish(scripted_event(name="first"))
        assert in_backoff.wait(5)
        handle.broker.publish(scripted_event(name="second"))
        stats = handle.broker.get_stats("com.test.scripted")
        assert stats is not None
        assert (stats.running, stats.waiting) == (1, 1)
        resume.set()
        handle.broker.wait_for_idle(timeout=5)
    assert attempts == ["first", "first", "second"]


def test_closing_the_broker_ends_a_long_backoff_at_once() -> None:
    errors: list[Exception] = []
    failing = threading.Event()

    def always_fails(event: ArvoEvent) -> list[ArvoEvent]:
        failing.set()
        raise RuntimeError("down")

    handlers = [
        {
            "handler": ScriptedHandler("com.test.scripted", always_fails),
            "retry": {"max_retries": 5, "initial_delay_ms": 600_000},
        }
    ]
    handle = create_concurrent_event_broker(
        handlers, on_broker_error=lambda e, ev: errors.append(e)
    )
    handle.broker.publish(scripted_event())
    assert failing.wait(5)
    handle.close(timeout=5)
    assert len(errors) == 1
    assert "(closing)" in errors[0].__notes__[0]


def test_one_failing_output_does_not_stop_the_others() -> None:
    errors: list[tuple[Exception, Any]] = []
    domained: list[ArvoEvent] = []
    received: list[ArvoEvent] = []

    def fan_out(event: ArvoEvent) -> list[ArvoEvent]:
        return [
            reply(event, data={"n": 1}, to="com.nobody.home"),
            reply(event, data={"n": 2}, domain="human.interaction"),
            reply(event, data={"n": 3}, domain="broken.callback"),
            reply(event, data={"n": 4}),
        ]

    def on_domained(item: dict[str, Any]) -> None:
        if item["domain"] == "broken.callback":
            raise RuntimeError("callback failed")
        domained.append(item["event"])

    handle = create_concurrent_event_broker(
        [{"handler": ScriptedHandler("com.test.scripted", fan_out)}],
        on_broker_error=lambda e, ev: errors.append((e, ev)),
        on_domained_events=on_domained,
    )
    with handle:
        handle.broker.subscribe(lambda e, publish: received.append(e), topic=TEST_SOURCE)
        handle.broker.publish(scripted_event())
        handle.broker.wait_for_idle(timeout=5)
    assert [e.data["n"] for e in received] == [4]
    assert [e.data["n"] for e in domained] == [2]
    assert sorted(ev.data["n"] for _, ev in errors) == [1, 3]
    messages = " ".join(str(e) for e, _ in errors)
    assert "Routing failed" in messages
    assert "callback failed" in messages


def test_a_domained_event_without_a_callback_is_reported_not_lost() -> None:
    errors: list[tuple[Exception, Any]] = []

    def ask_human(event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, domain="human.interaction")]

    handle = create_concurrent_event_broker(
        [{"handler": ScriptedHandler("com.test.scripted", ask_human)}],
        on_broker_error=lambda e, ev: errors.append((e, ev)),
    )
    with handle, pytest.raises(ResolveError, match="no on_domained_events") as raised:
        handle.resolve(scripted_event(), timeout=5)
    assert len(errors) == 1
    assert isinstance(raised.value.errors[0][0], DomainedEventError)
    assert "no on_domained_events" in str(errors[0][0])
    assert errors[0][1].domain == "human.interaction"


def test_resolve_waits_for_a_slow_domained_callback() -> None:
    entered = threading.Event()
    release = threading.Event()

    def ask_human(event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, domain="human.interaction")]

    def slow_callback(item: dict[str, Any]) -> None:
        entered.set()
        release.wait(10)

    handle = create_concurrent_event_broker(
        [{"handler": ScriptedHandler("com.test.scripted", ask_human)}],
        on_domained_events=slow_callback,
    )
    with handle:
        future = handle.resolve_async(scripted_event(), missing="none")
        assert entered.wait(5)
        assert not future.done()
        release.set()
        assert future.result(timeout=5) is None


def test_the_last_event_routed_back_wins() -> None:
    def answer_twice(event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, data={"n": 1}), reply(event, data={"n": 2})]

    handlers = [{"handler": ScriptedHandler("com.test.scripted", answer_twice)}]
    with create_concurrent_event_broker(handlers) as handle:
        result = handle.resolve(scripted_event(), timeout=5)
    assert result is not None
    assert result.data == {"n": 2}


def test_a_cancelled_handler_is_reported_once_and_not_retried() -> None:
    failures: list[tuple[Exception, Any]] = []
    asked: list[Exception] = []

    def cancelled(event: ArvoEvent) -> list[ArvoEvent]:
        raise asyncio.CancelledError

    handler = ScriptedHandler("com.test.scripted", cancelled)
    entry = {"handler": handler, "on_error": lambda error, info: asked.append(error)}
    with create_concurrent_event_broker(
        [entry], on_broker_error=lambda error, event: failures.append((error, event))
    ) as handle:
        event = scripted_event()
        with pytest.raises(ResolveError, match="HandlerAbortedError") as raised:
            handle.resolve(event, timeout=WAIT_S)
        stats = handle.handler_stats("com.test.scripted")
    assert raised.value.errors == tuple(failures)
    [(error, reported)] = failures
    assert isinstance(error, HandlerAbortedError)
    assert isinstance(error.error, asyncio.CancelledError)
    assert reported is event
    assert "CancelledError" in str(error)
    assert asked == []
    assert stats is not None
    assert (stats.executions, stats.retries, stats.failed) == (1, 0, 1)


def held_echo(gate: threading.Event) -> ScriptedHandler:
    """A prefetch-1 friendly handler: replies ``n`` to the source once ``gate`` is open."""

    def script(event: ArvoEvent) -> list[ArvoEvent]:
        assert gate.wait(WAIT_S)
        return [reply(event, data={"n": event.data["n"]})]

    return ScriptedHandler("com.test.scripted", script)


def test_a_resolve_async_callback_may_resolve_again_on_the_same_busy_handler() -> None:
    # The future used to complete on the pool worker: with prefetch 1, a done-callback
    # that resolved again waited for the very worker it was blocking, until timeout.
    gate, chained = threading.Event(), threading.Event()
    results: list[Any] = []
    with create_concurrent_event_broker([{"handler": held_echo(gate), "prefetch": 1}]) as handle:

        def then(future: Any) -> None:
            results.append((current_worker(), handle.resolve(scripted_event(n=2), timeout=WAIT_S)))
            chained.set()

        first = handle.resolve_async(scripted_event(n=1))
        first.add_done_callback(then)  # registered while the event is held: runs on completion
        gate.set()
        assert first.result(timeout=WAIT_S).data == {"n": 1}
        assert chained.wait(WAIT_S)
    [(worker, final)] = results
    assert worker is None, "the done-callback ran on a pool worker"
    assert final.data == {"n": 2}


def test_a_blocked_resolve_async_callback_holds_up_no_handler() -> None:
    gate, in_callback, release = threading.Event(), threading.Event(), threading.Event()
    with create_concurrent_event_broker([{"handler": held_echo(gate), "prefetch": 1}]) as handle:
        first = handle.resolve_async(scripted_event(n=1))

        def hold_the_callback(_: object) -> None:
            in_callback.set()
            release.wait(WAIT_S)

        first.add_done_callback(hold_the_callback)
        gate.set()
        try:
            assert in_callback.wait(WAIT_S)
            assert handle.resolve(scripted_event(n=2), timeout=WAIT_S).data == {"n": 2}
            later = handle.resolve_async(scripted_event(n=3))
            handle.broker.wait_for_idle(WAIT_S)
            assert not later.done(), "callbacks run one at a time, in completion order"
        finally:
            release.set()
        assert later.result(timeout=WAIT_S).data == {"n": 3}
    # close() ends the callback thread at once, instead of letting it linger for more.
    assert "arvo-resolve-callbacks" not in {t.name for t in threading.enumerate()}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "Missing required 'source' field"),
        ("", "Missing required 'source' field"),
        (5, "the 'source' field must be a string, got int 5"),
    ],
)
def test_resolve_names_a_missing_or_invalid_source(source: Any, message: str) -> None:
    handler = ScriptedHandler("com.test.scripted", lambda event: [])
    with create_concurrent_event_broker([{"handler": handler}]) as handle:
        event = SimpleNamespace(to="com.test.scripted", source=source)
        calls: list[Callable[[Any], object]] = [handle.resolve, handle.resolve_async]
        for call in calls:
            with pytest.raises(InvalidEventError, match=message) as info:
                call(event)
            assert info.value.field == "source"
            assert info.value.event is event
            assert "routed back to the 'source'" in str(info.value)
        assert handle.broker.get_stats("com.test.scripted") == TopicStats(
            topic="com.test.scripted", prefetch=1, running=0, waiting=0, in_flight=0, workers=0
        )
