"""close() and report() against slow or aborting callbacks (issue 10, item 4)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from arvo_concurrent.arvo import ArvoEvent
from arvo_concurrent.broker import ConcurrentEventBroker, HandlerAbortedError
from arvo_concurrent.broker.factory import create_concurrent_event_broker
from tests.arvo.handlers import TEST_SOURCE
from tests.broker.support import WAIT_S, Errors, Ev, ScriptedHandler, reply, scripted_event


class Abort(BaseException):
    """A BaseException that is not an Exception, as a cancellation or exit would be."""


def test_close_returns_while_a_slow_on_error_for_a_dropped_event_still_runs() -> None:
    hold, in_callback, release = threading.Event(), threading.Event(), threading.Event()
    dropped: list[Any] = []

    def slow_on_error(error: Exception, event: Any) -> None:
        hold.set()  # lets the running event end, so only this callback is slow
        in_callback.set()
        release.wait(4 * WAIT_S)
        dropped.append(event)

    def handler(event: Any, publish: Any) -> None:
        assert hold.wait(WAIT_S)

    broker = ConcurrentEventBroker(on_error=slow_on_error)
    broker.subscribe(handler, topic="t")
    for n in range(3):
        broker.publish(Ev(to="t", id=n))  # 0 runs, 1 and 2 wait
    closer = threading.Thread(target=broker.close, kwargs={"timeout": 0.2})
    closer.start()
    try:
        assert in_callback.wait(WAIT_S)
        closer.join(2 * WAIT_S)
        assert not closer.is_alive(), "close() waited for on_error past its deadline"
        assert not release.is_set()
    finally:
        release.set()
    closer.join(WAIT_S)
    for thread in threading.enumerate():
        if thread.name == "arvo-broker-close-reports":
            thread.join(WAIT_S)
    assert [event.id for event in dropped] == [1, 2]


def test_a_base_exception_from_on_broker_error_does_not_abort_close() -> None:
    gate = threading.Event()

    def on_broker_error(error: Exception, event: Any) -> None:
        gate.set()
        raise Abort

    def echo(event: ArvoEvent) -> list[ArvoEvent]:
        assert gate.wait(WAIT_S)
        return [reply(event, data={"n": event.data["n"]})]

    handle = create_concurrent_event_broker(
        [{"handler": ScriptedHandler("com.test.scripted", echo), "prefetch": 1}],
        on_broker_error=on_broker_error,
    )
    futures = [handle.resolve_async(scripted_event(n=n)) for n in range(5)]
    try:
        handle.close(timeout=WAIT_S)
    except Abort:
        pytest.fail("on_broker_error's BaseException escaped close()")
    # Every future completes: 0's reply was refused (the broker was closing), 1-4 were
    # dropped; each resolve says so.
    failures = [str(future.exception(timeout=WAIT_S)) for future in futures]
    assert "ClosedError" in failures[0]
    assert all("Event dropped" in failure for failure in failures[1:])
    handle.broker.wait_for_idle(timeout=0)  # nothing left counted in flight
    handle.close(timeout=WAIT_S)  # a second close is a no-op, not a hang or an error


def test_a_second_close_waits_for_the_first_to_end() -> None:
    entered, gate = threading.Event(), threading.Event()
    finished = threading.Event()
    seen_by_second: list[bool] = []
    returned = threading.Event()

    def handler(event: Any, publish: Any) -> None:
        entered.set()
        assert gate.wait(WAIT_S)
        finished.set()

    broker = ConcurrentEventBroker(on_error=Errors())
    broker.subscribe(handler, topic="t")
    broker.publish(Ev(to="t"))
    assert entered.wait(WAIT_S)
    first = threading.Thread(target=broker.close, kwargs={"timeout": 2 * WAIT_S})
    first.start()
    assert broker.closing.wait(WAIT_S)

    def second_close() -> None:
        broker.close(timeout=2 * WAIT_S)
        seen_by_second.append(finished.is_set())
        returned.set()

    second = threading.Thread(target=second_close)
    second.start()
    # A buggy second close() returns at once; give it that chance before the handler
    # ends. A correct one cannot return before the gate opens, however long this waits.
    returned.wait(0.2)
    gate.set()
    second.join(WAIT_S)
    first.join(WAIT_S)
    assert seen_by_second == [True], "the second close() returned before the first ended"


def test_report_survives_a_base_exception_from_on_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def on_error(error: Exception, event: Any) -> None:
        raise Abort

    with ConcurrentEventBroker(on_error=on_error) as broker:
        broker.report(ValueError("first"), Ev(to="t", id=1))
        broker.report(ValueError("second"), Ev(to="t", id=2))
    stderr = capsys.readouterr().err
    assert stderr.count("on_error raised Abort()") == 1  # visible, and once per kind


def test_a_base_exception_in_on_domained_events_keeps_the_other_outputs() -> None:
    errors = Errors()
    received: list[ArvoEvent] = []

    def fan_out(event: ArvoEvent) -> list[ArvoEvent]:
        return [
            reply(event, data={"n": 1}, domain="human.interaction"),
            reply(event, data={"n": 2}, to="com.test.sink"),
        ]

    def on_domained(item: dict[str, Any]) -> None:
        raise Abort

    handle = create_concurrent_event_broker(
        [{"handler": ScriptedHandler("com.test.scripted", fan_out)}],
        on_broker_error=errors,
        on_domained_events=on_domained,
    )
    with handle:
        handle.broker.subscribe(lambda e, publish: received.append(e), topic="com.test.sink")
        handle.broker.publish(scripted_event(source=TEST_SOURCE))
        handle.broker.wait_for_idle(WAIT_S)
    assert [e.data["n"] for e in received] == [2]
    [(error, event)] = errors.calls
    assert isinstance(error, HandlerAbortedError)
    assert isinstance(error.error, Abort)
    assert event.data == {"n": 1}


def test_an_on_error_that_closes_the_closing_broker_does_not_hang_it() -> None:
    entered, gate = threading.Event(), threading.Event()
    nested: list[str] = []
    broker: ConcurrentEventBroker

    def on_error(error: Exception, event: Any) -> None:
        gate.set()  # the running event may end now
        broker.close(timeout=None)  # on the close's reporting thread: must not wait for itself
        nested.append(type(error).__name__)

    def handler(event: Any, publish: Any) -> None:
        entered.set()
        assert gate.wait(WAIT_S)

    broker = ConcurrentEventBroker(on_error=on_error)
    broker.subscribe(handler, topic="t")
    broker.publish(Ev(to="t", id=0))
    broker.publish(Ev(to="t", id=1))  # waits: dropped by the close
    assert entered.wait(WAIT_S)
    closer = threading.Thread(target=broker.close, kwargs={"timeout": None}, daemon=True)
    closer.start()
    closer.join(2 * WAIT_S)
    assert not closer.is_alive(), "close() and the on_error it runs waited for each other"
    assert nested == ["EventDroppedError"]
