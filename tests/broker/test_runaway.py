"""Runaway lineages: the hop limit, abandoned resolves, bounded queues (issue 10, item 3)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from arvo_concurrent import HopLimitError, QueueFullError, ResolveError, ResolveTimeoutError
from arvo_concurrent.arvo import ArvoEvent
from arvo_concurrent.broker import ConcurrentEventBroker, EventDroppedError, SubscriptionError
from arvo_concurrent.broker.factory import create_concurrent_event_broker
from tests.broker.support import WAIT_S, Errors, Ev, ScriptedHandler, reply, scripted_event

# Under the old code these lineages never ended; a bound keeps such a run finite.
_RUNAWAY_GUARD = 2_000


class SelfEmitter:
    """Re-emits its event to itself ``fan`` times; counts its runs; may hold run ``hold_at``."""

    def __init__(self, fan: int = 1, hold_at: int | None = None) -> None:
        self.fan = fan
        self.runs = 0
        self.hold_at = hold_at
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        with self._lock:
            self.runs += 1
            run = self.runs
        if run == self.hold_at:
            self.held.set()
            assert self.release.wait(WAIT_S)
        if run >= _RUNAWAY_GUARD:
            return []
        return [reply(event, to="com.test.scripted") for _ in range(self.fan)]


def _self_emitting(emitter: SelfEmitter, **entry: Any) -> list[dict[str, Any]]:
    handler = ScriptedHandler("com.test.scripted", emitter.execute)
    return [{"handler": handler, **entry}]


def test_a_handler_emitting_to_itself_stops_at_the_hop_limit_and_resolve_names_it() -> None:
    emitter = SelfEmitter()
    errors = Errors()
    with (
        create_concurrent_event_broker(
            _self_emitting(emitter), on_broker_error=errors, max_hops=50
        ) as handle,
        pytest.raises(ResolveError, match="HopLimitError") as raised,
    ):
        handle.resolve(scripted_event(), timeout=2 * WAIT_S)
    assert emitter.runs == 50  # the initial event and 49 of its own; the 50th is refused
    [(error, event)] = raised.value.errors
    assert isinstance(error, HopLimitError)
    assert error.limit == 50
    assert event.to == "com.test.scripted"
    assert errors.calls == [(error, event)]


def test_a_doubling_lineage_is_bounded_too() -> None:
    emitter = SelfEmitter(fan=2)
    with (
        create_concurrent_event_broker(
            _self_emitting(emitter, prefetch=4), on_broker_error=Errors(), max_hops=100
        ) as handle,
        pytest.raises(ResolveError) as raised,
    ):
        handle.resolve(scripted_event(), timeout=2 * WAIT_S)
    assert emitter.runs == 100
    assert {type(error) for error, _ in raised.value.errors} == {HopLimitError}


def test_the_hop_limit_applies_to_a_plain_publish_and_counts_per_lineage(errors: Errors) -> None:
    runs: list[int] = []

    def again(event: Ev, publish: Any) -> None:
        runs.append(event.id)
        if len(runs) < _RUNAWAY_GUARD:
            publish(Ev(to="t", id=event.id))

    with ConcurrentEventBroker(on_error=errors, max_hops=10) as broker:
        broker.subscribe(again, topic="t")
        broker.publish(Ev(to="t", id=1))
        broker.publish(Ev(to="t", id=2))  # a second lineage: its own ten hops
        broker.wait_for_idle(WAIT_S)
    assert sorted(runs) == [1] * 10 + [2] * 10
    assert [type(error) for error in errors.errors] == [HopLimitError, HopLimitError]


@pytest.mark.parametrize("max_hops", [0, -1, True, 1.5, None])
def test_max_hops_is_validated(max_hops: Any) -> None:
    with pytest.raises(ValueError, match="max_hops must be a positive int"):
        ConcurrentEventBroker(max_hops=max_hops)


def test_after_a_resolve_timed_out_its_self_emitting_lineage_stops() -> None:
    emitter = SelfEmitter(hold_at=3)  # usually still held when the resolve times out
    errors = Errors()
    with create_concurrent_event_broker(_self_emitting(emitter), on_broker_error=errors) as handle:
        with pytest.raises(ResolveTimeoutError):
            handle.resolve(scripted_event(), timeout=0.1)
        at_timeout = emitter.runs
        emitter.release.set()
        handle.broker.wait_for_idle(WAIT_S)
    # Only a run that began as the resolve gave up may follow; its output goes nowhere.
    assert emitter.runs <= at_timeout + 1
    [(error, event)] = errors.calls  # the one event in flight: dropped, and reported
    assert isinstance(error, EventDroppedError)
    assert error.reason == "abandoned"
    assert event.to == "com.test.scripted"


def test_the_waiting_events_of_an_abandoned_lineage_are_dropped_and_reported() -> None:
    gate, entered = threading.Event(), threading.Event()
    ran: list[int] = []

    def fan_out(event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, to="com.test.slow", data={"n": n}) for n in range(3)]

    def slow(event: ArvoEvent) -> list[ArvoEvent]:
        ran.append(event.data["n"])
        entered.set()
        assert gate.wait(WAIT_S)
        return []

    handlers: list[dict[str, Any]] = [
        {"handler": ScriptedHandler("com.test.scripted", fan_out)},
        {"handler": ScriptedHandler("com.test.slow", slow), "prefetch": 1},
    ]
    errors = Errors()
    with create_concurrent_event_broker(handlers, on_broker_error=errors) as handle:
        future = handle.resolve_async(scripted_event())
        assert entered.wait(WAIT_S)  # n=0 runs, n=1 and n=2 wait behind it
        assert future.cancel()  # cancelling the future abandons the lineage
        gate.set()
        handle.broker.wait_for_idle(WAIT_S)
    assert ran == [0]
    assert sorted(event.data["n"] for _, event in errors.calls) == [1, 2]
    assert {error.reason for error in errors.errors} == {"abandoned"}  # type: ignore[attr-defined]


def test_a_full_queue_refuses_a_publish_with_queue_full_error(errors: Errors) -> None:
    gate, entered = threading.Event(), threading.Event()
    done: list[int] = []

    def held(event: Ev, publish: Any) -> None:
        entered.set()
        assert gate.wait(WAIT_S)
        done.append(event.id)

    with ConcurrentEventBroker(on_error=errors) as broker:
        broker.subscribe(held, topic="t", prefetch=1, max_queued=2)
        broker.publish(Ev(to="t", id=0))
        assert entered.wait(WAIT_S)
        broker.publish(Ev(to="t", id=1))
        broker.publish(Ev(to="t", id=2))
        with pytest.raises(QueueFullError, match="topic 't'") as raised:
            broker.publish(Ev(to="t", id=3))
        assert raised.value.event == Ev(to="t", id=3)
        assert raised.value.max_queued == 2
        stats = broker.get_stats("t")
        assert stats is not None
        assert (stats.running, stats.waiting) == (1, 2)
        gate.set()
        broker.wait_for_idle(WAIT_S)
        broker.publish(Ev(to="t", id=4))  # room again
        broker.wait_for_idle(WAIT_S)
    assert done == [0, 1, 2, 4]
    assert errors.calls == []


def test_max_queued_zero_still_fills_every_prefetch_slot_of_a_cold_pool(errors: Errors) -> None:
    gate = threading.Event()
    started = threading.Semaphore(0)

    def held(event: Ev, publish: Any) -> None:
        started.release()
        assert gate.wait(WAIT_S)

    with ConcurrentEventBroker(on_error=errors) as broker:
        broker.subscribe(held, topic="t", prefetch=2, max_queued=0)
        broker.publish(Ev(to="t", id=0))
        broker.publish(Ev(to="t", id=1))  # both slots, while the workers start
        with pytest.raises(QueueFullError):
            broker.publish(Ev(to="t", id=2))
        assert started.acquire(timeout=WAIT_S)
        assert started.acquire(timeout=WAIT_S)
        gate.set()
        broker.wait_for_idle(WAIT_S)


def test_an_output_refused_by_a_full_queue_is_an_error_of_the_resolve() -> None:
    gate = threading.Event()

    def fan_out(event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, to="com.test.slow", data={"n": n}) for n in range(3)]

    def slow(event: ArvoEvent) -> list[ArvoEvent]:
        assert gate.wait(WAIT_S)
        return []

    handlers: list[dict[str, Any]] = [
        {"handler": ScriptedHandler("com.test.scripted", fan_out)},
        {"handler": ScriptedHandler("com.test.slow", slow), "prefetch": 1, "max_queued": 1},
    ]
    errors = Errors()

    def on_broker_error(error: Exception, event: Any) -> None:
        errors(error, event)
        gate.set()  # n=0 holds the slot and n=1 the queue until n=2 was refused

    with create_concurrent_event_broker(handlers, on_broker_error=on_broker_error) as handle:
        failure = handle.resolve_async(scripted_event()).exception(timeout=WAIT_S)
    assert isinstance(failure, ResolveError)
    [(error, event)] = failure.errors
    assert isinstance(error, QueueFullError)
    assert event.data == {"n": 2}
    assert errors.calls == [(error, event)]


@pytest.mark.parametrize("max_queued", [-1, 1.5, True, "10"])
def test_max_queued_is_validated(broker: ConcurrentEventBroker, max_queued: Any) -> None:
    with pytest.raises(SubscriptionError, match="max_queued must be"):
        broker.subscribe(lambda e, p: None, topic="t", max_queued=max_queued)
    with pytest.raises(ValueError, match="max_queued must be"):
        create_concurrent_event_broker(
            [{"handler": ScriptedHandler("x.y", lambda e: []), "max_queued": max_queued}]
        )
