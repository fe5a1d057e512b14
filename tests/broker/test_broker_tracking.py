"""Work tracking per lineage and capture: the hooks ``resolve`` is built on."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from arvo_concurrent.broker import (
    ConcurrentEventBroker,
    LineagePublisher,
    RoutingError,
    WaitInHandlerError,
    WorkTracker,
)
from tests.broker.support import WAIT_S, Errors, Ev

# -- WorkTracker on its own ---------------------------------------------------------


def test_tracker_counts_and_reports_idle() -> None:
    tracker = WorkTracker()
    assert tracker.pending == 0
    assert tracker.wait_idle(0) is True
    tracker.add()
    tracker.add(2)
    assert tracker.pending == 3
    assert tracker.wait_idle(0) is False
    tracker.done(2)
    tracker.done()
    assert tracker.pending == 0
    assert tracker.wait_idle(0) is True


@pytest.mark.parametrize(("add", "done"), [(0, 1), (1, 2), (1, 0)])
def test_tracker_rejects_bad_counts(add: int, done: int) -> None:
    tracker = WorkTracker()
    if add:
        tracker.add(add)
    with pytest.raises(ValueError, match=r"done\(n\) needs 1 <= n <= pending"):
        tracker.done(done)
    assert tracker.pending == add
    with pytest.raises(ValueError, match=r"add\(n\) needs n >= 1, got n=0"):
        tracker.add(0)


def test_counting_takes_no_lock_that_waiters_hold() -> None:
    # Every worker of a broker counts every hop in the root tracker: a lock taken there
    # convoys under the GIL (benchmarks/NOTES.md). Counting that does not reach
    # zero must go on while the tracker's lock is held (by a waiter, or a wake-up).
    tracker = WorkTracker()
    tracker.add()
    counted = threading.Event()

    def count() -> None:
        tracker.add(2)
        tracker.add()
        tracker.done()
        tracker.done(2)
        counted.set()

    with tracker._lock:
        thread = threading.Thread(target=count)
        thread.start()
        finished = counted.wait(WAIT_S)
    thread.join(WAIT_S)
    assert finished, "add/done waited for the tracker's lock"
    assert tracker.pending == 1
    tracker.done()  # the last release takes the lock, to wake the waiters
    assert tracker.wait_idle(0) is True


def test_wait_idle_wakes_when_another_thread_releases_the_last_count() -> None:
    tracker = WorkTracker()
    tracker.add()
    waiting = threading.Event()
    result: list[bool] = []

    def waiter() -> None:
        waiting.set()
        result.append(tracker.wait_idle(WAIT_S))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(WAIT_S)
    tracker.done()
    thread.join(WAIT_S)
    assert result == [True]


def test_when_idle_runs_at_once_or_on_the_last_release(caplog: pytest.LogCaptureFixture) -> None:
    tracker = WorkTracker()
    calls: list[str] = []
    tracker.when_idle(lambda: calls.append("now"))
    assert calls == ["now"]
    tracker.add(2)

    def broken() -> None:
        raise RuntimeError("bad callback")

    def aborting() -> None:
        raise SystemExit("a BaseException")

    tracker.when_idle(broken)
    tracker.when_idle(aborting)
    tracker.when_idle(lambda: calls.append("later"))
    tracker.done()
    assert calls == ["now"]
    with caplog.at_level(logging.ERROR, logger="arvo_concurrent.broker.tracking"):
        tracker.done()
    assert calls == ["now", "later"]
    assert len([r for r in caplog.records if "Tracker callback" in r.getMessage()]) == 2
    # Callbacks fire once: the next idle period needs new ones.
    tracker.add()
    tracker.done()
    assert calls == ["now", "later"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capture_topic": "x"}, "go together"),
        ({"on_capture": print}, "go together"),
        ({"capture_topic": "", "on_capture": print}, "non-empty string"),
    ],
)
def test_tracker_capture_arguments_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkTracker(**kwargs)


# -- lineages on a broker -----------------------------------------------------------


def test_children_are_counted_before_the_parent_is_released(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    tracker = WorkTracker()
    gate, child_started, recorded = threading.Event(), threading.Event(), threading.Event()
    pending_after_publish: list[int] = []

    def parent(event: Any, publish: Any) -> None:
        publish(Ev(to="child"))
        pending_after_publish.append(tracker.pending)
        recorded.set()

    def child(event: Any, publish: Any) -> None:
        child_started.set()
        assert gate.wait(WAIT_S)

    broker.subscribe(parent, topic="parent")
    broker.subscribe(child, topic="child")
    broker.publish(Ev(to="parent"), trackers=[tracker])
    assert child_started.wait(WAIT_S)
    assert recorded.wait(WAIT_S)
    assert pending_after_publish == [2], "parent and child were both counted"
    assert tracker.wait_idle(0) is False
    gate.set()
    assert tracker.wait_idle(WAIT_S)
    broker.wait_for_idle(WAIT_S)
    assert errors.calls == []


def test_the_publish_a_handler_gets_carries_the_lineage(broker: ConcurrentEventBroker) -> None:
    tracker = WorkTracker()
    publishers: list[Any] = []
    broker.subscribe(lambda event, publish: publishers.append(publish), topic="t")
    broker.publish(Ev(to="t"), trackers=[tracker])
    broker.publish(Ev(to="t"))
    broker.wait_for_idle(WAIT_S)
    tracked, plain = publishers
    assert isinstance(tracked, LineagePublisher)
    assert len(tracked.lineage) == 2
    assert tracked.lineage[1] is tracker
    assert len(plain.lineage) == 1
    assert tracker not in plain.lineage


def test_trackers_must_be_work_trackers(broker: ConcurrentEventBroker) -> None:
    with pytest.raises(TypeError, match="WorkTracker"):
        broker.publish(Ev(to="t"), trackers=["nope"])  # type: ignore[list-item]


def test_events_to_the_capture_topic_are_captured_not_routed(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    captured: list[Any] = []
    tracker = WorkTracker(capture_topic="origin", on_capture=captured.append)

    def step(event: Any, publish: Any) -> None:
        publish(Ev(to="origin", id=event.id * 10))

    broker.subscribe(step, topic="step")
    broker.publish(Ev(to="step", id=4), trackers=[tracker])
    assert tracker.wait_idle(WAIT_S)
    assert captured == [Ev(to="origin", id=40)]
    assert errors.calls == []
    # Outside that lineage, "origin" is an ordinary, unroutable topic.
    broker.publish(Ev(to="origin"))
    assert isinstance(errors.errors[0], RoutingError)


def test_a_capture_callback_that_raises_is_reported(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    def capture(event: Any) -> None:
        raise RuntimeError("capture failed")

    tracker = WorkTracker(capture_topic="origin", on_capture=capture)
    event = Ev(to="origin")
    broker.publish(event, trackers=[tracker])
    assert [(str(error), ev) for error, ev in errors.calls] == [("capture failed", event)]
    assert tracker.pending == 0


def test_concurrent_lineages_with_the_same_capture_topic_are_isolated(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    held_gate, held_started = threading.Event(), threading.Event()

    def step(event: Any, publish: Any) -> None:
        if event.id == 1:
            held_started.set()
            assert held_gate.wait(WAIT_S)
        publish(Ev(to="origin", id=event.id))

    broker.subscribe(step, topic="step", prefetch=2)
    first: list[Any] = []
    second: list[Any] = []
    t1 = WorkTracker(capture_topic="origin", on_capture=first.append)
    t2 = WorkTracker(capture_topic="origin", on_capture=second.append)
    broker.publish(Ev(to="step", id=1), trackers=[t1])
    assert held_started.wait(WAIT_S)
    broker.publish(Ev(to="step", id=2), trackers=[t2])
    assert t2.wait_idle(WAIT_S)
    assert second == [Ev(to="origin", id=2)]
    assert t1.wait_idle(0) is False
    assert first == []
    held_gate.set()
    assert t1.wait_idle(WAIT_S)
    assert first == [Ev(to="origin", id=1)]
    assert errors.calls == []


def test_many_concurrent_lineages_each_see_only_their_own_work(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    broker.subscribe(lambda e, publish: publish(Ev(to="b", id=e.id)), topic="a", prefetch=3)
    broker.subscribe(lambda e, publish: publish(Ev(to="origin", id=e.id)), topic="b", prefetch=2)
    results: dict[int, list[int]] = {}
    start = threading.Barrier(8)

    def resolve_like(k: int) -> None:
        mine: list[Any] = []
        tracker = WorkTracker(capture_topic="origin", on_capture=mine.append)
        start.wait(WAIT_S)
        for i in range(20):
            broker.publish(Ev(to="a", id=k * 100 + i), trackers=[tracker])
        assert tracker.wait_idle(WAIT_S)
        results[k] = sorted(e.id for e in mine)

    threads = [threading.Thread(target=resolve_like, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert results == {k: [k * 100 + i for i in range(20)] for k in range(8)}
    assert errors.calls == []


def test_dropped_and_unroutable_events_release_their_lineage(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    tracker = WorkTracker()
    gate, started = threading.Event(), threading.Event()

    def held(event: Any, publish: Any) -> None:
        started.set()
        assert gate.wait(WAIT_S)

    unsubscribe = broker.subscribe(held, topic="t")
    broker.publish(Ev(to="t", id=0), trackers=[tracker])
    broker.publish(Ev(to="t", id=1), trackers=[tracker])
    broker.publish(Ev(to="nowhere"), trackers=[tracker])
    assert started.wait(WAIT_S)
    assert tracker.pending == 2
    unsubscribe()
    assert tracker.pending == 1
    gate.set()
    assert tracker.wait_idle(WAIT_S)
    assert len(errors.calls) == 2


def test_wait_for_idle_in_a_handler_of_the_same_broker_raises_at_once(
    broker: ConcurrentEventBroker, errors: Errors
) -> None:
    # Its own event keeps the broker busy: the wait used to hang (or time out).
    outcomes: list[str] = []
    with ConcurrentEventBroker() as other:

        def handler(event: Any, publish: Any) -> None:
            for target in (broker, other):
                try:
                    target.wait_for_idle(WAIT_S)
                    outcomes.append("idle")
                except WaitInHandlerError as error:
                    outcomes.append(f"refused in {error.topic}: {error}")

        broker.subscribe(handler, topic="t")
        broker.publish(Ev(to="t"))
        broker.wait_for_idle(WAIT_S)
    refused, waited = outcomes
    assert refused.startswith("refused in t: wait_for_idle called from the handler of topic 't'")
    assert waited == "idle", "another broker's wait is not refused"
    assert errors.calls == []


def test_a_tracker_records_errors_only_when_asked_to() -> None:
    recording, plain = WorkTracker(record_errors=True), WorkTracker()
    first, second = ValueError("a"), KeyError("b")
    for tracker in (recording, plain):
        tracker.record_error(first, "event-1")
        tracker.record_error(second, "event-2")
    assert recording.errors == ((first, "event-1"), (second, "event-2"))
    assert plain.errors == ()


def test_abandon_marks_the_tracker_once_and_for_all() -> None:
    tracker = WorkTracker()
    assert not tracker.abandoned
    tracker.abandon()
    tracker.abandon()
    assert tracker.abandoned


def test_abandon_runs_its_callbacks_once_in_the_abandoning_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = WorkTracker()
    calls: list[tuple[str, threading.Thread]] = []

    def failing() -> None:
        raise RuntimeError("callback failed")

    tracker.when_abandoned(lambda: calls.append(("first", threading.current_thread())))
    tracker.when_abandoned(failing)  # logged; the callbacks after it still run
    tracker.when_abandoned(lambda: calls.append(("second", threading.current_thread())))
    assert calls == []
    abandoning = threading.Thread(target=tracker.abandon)
    abandoning.start()
    abandoning.join(WAIT_S)
    tracker.abandon()  # once only
    assert calls == [("first", abandoning), ("second", abandoning)]
    assert "callback failed" in caplog.text
    tracker.when_abandoned(lambda: calls.append(("late", threading.current_thread())))
    assert calls[-1] == ("late", threading.current_thread())  # abandoned already: at once
