"""resolve() says why it got nothing; failures are visible by default (issue 10, items 2, 5)."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import pytest

from arvo_concurrent import ResolveError
from arvo_concurrent.arvo import ArvoEvent, create_arvo_event_factory
from arvo_concurrent.broker import RoutingError, WaitInHandlerError
from arvo_concurrent.broker.factory import create_concurrent_event_broker
from tests.arvo.contracts import product_contract
from tests.arvo.handlers import TEST_SOURCE, add_handler
from tests.broker.support import WAIT_S, Errors, ScriptedHandler, reply, scripted_event

PRODUCT = create_arvo_event_factory(product_contract.version("1.0.0"))


def test_an_error_two_hops_down_the_lineage_is_what_resolve_raises() -> None:
    # scripted -> com.test.second, which fails: resolve of the first event names it.
    def forward(event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, to="com.test.second")]

    def fail(event: ArvoEvent) -> list[ArvoEvent]:
        raise LookupError(f"no record for {event.data}")

    handlers: list[dict[str, Any]] = [
        {"handler": ScriptedHandler("com.test.scripted", forward)},
        {"handler": ScriptedHandler("com.test.second", fail), "retry": {"max_retries": 0}},
    ]
    errors = Errors()
    with create_concurrent_event_broker(handlers, on_broker_error=errors) as handle:
        event = scripted_event()
        with pytest.raises(ResolveError, match="LookupError: no record") as raised:
            handle.resolve(event, timeout=WAIT_S)
    [(error, about)] = raised.value.errors
    assert isinstance(error, LookupError)
    assert about.to == "com.test.second"
    assert raised.value.event is event
    assert errors.calls == [(error, about)]  # on_broker_error still hears of it


def test_twenty_concurrent_resolves_each_get_only_their_own_errors() -> None:
    def answer_or_fail(event: ArvoEvent) -> list[ArvoEvent]:
        if event.data["n"] % 2:
            raise ValueError(f"odd {event.data['n']}")
        return [reply(event, data={"n": event.data["n"]})]

    handlers = [
        {
            "handler": ScriptedHandler("com.test.scripted", answer_or_fail),
            "prefetch": 4,
            "retry": {"max_retries": 0},
        }
    ]
    with create_concurrent_event_broker(handlers, on_broker_error=Errors()) as handle:
        futures = [handle.resolve_async(scripted_event(n=n)) for n in range(20)]
        for n, future in enumerate(futures):
            failure = future.exception(timeout=WAIT_S)
            if n % 2 == 0:
                assert failure is None
                assert future.result().data == {"n": n}
                continue
            assert isinstance(failure, ResolveError)
            [(error, about)] = failure.errors
            assert str(error) == f"odd {n}"
            assert about.data == {"n": n}


def test_no_final_event_and_no_error_raises_no_final_event_or_returns_none() -> None:
    handlers = [{"handler": ScriptedHandler("com.test.scripted", lambda event: [])}]
    with create_concurrent_event_broker(handlers) as handle:
        with pytest.raises(ResolveError, match="no final event") as raised:
            handle.resolve(scripted_event(), timeout=WAIT_S)
        assert raised.value.errors == ()
        assert handle.resolve(scripted_event(), timeout=WAIT_S, missing="none") is None
        future = handle.resolve_async(scripted_event())
        assert isinstance(future.exception(timeout=WAIT_S), ResolveError)
        assert handle.resolve_async(scripted_event(), missing="none").result(WAIT_S) is None


def test_without_on_broker_error_failures_are_visible_without_logging_setup(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    unroutable = PRODUCT.accepts(source=TEST_SOURCE, data={"numbers": [1, 2]})
    with (
        create_concurrent_event_broker([{"handler": add_handler()}]) as handle,
        caplog.at_level(logging.ERROR, logger="arvo_concurrent.broker"),
    ):
        for _ in range(3):
            handle.broker.publish(unroutable)
        handle.broker.report(ValueError("boom"), unroutable)
    lines = capsys.readouterr().err.splitlines()
    # One stderr line per kind of error, however many of each...
    assert len(lines) == 2
    assert lines[0].startswith("arvo_concurrent.broker: Routing failed")
    assert "boom" in lines[1]
    assert all("'arvo_concurrent.broker' logger" in line for line in lines)
    # ...and an ERROR record every time, with the traceback.
    records = [r for r in caplog.records if r.name == "arvo_concurrent.broker"]
    assert [type(r.exc_info[1]) for r in records if r.exc_info] == [RoutingError] * 3 + [ValueError]


@pytest.mark.parametrize("timeout", [math.inf, math.nan, "1", -1, True])
def test_a_bad_resolve_timeout_is_refused_before_anything_is_published(timeout: Any) -> None:
    ran = threading.Event()

    def mark(event: ArvoEvent) -> list[ArvoEvent]:
        ran.set()
        return []

    handlers = [{"handler": ScriptedHandler("com.test.scripted", mark)}]
    with create_concurrent_event_broker(handlers) as handle:
        with pytest.raises(ValueError, match="timeout must be"):
            handle.resolve(scripted_event(), timeout=timeout)
        handle.broker.wait_for_idle(WAIT_S)
        stats = handle.handler_stats("com.test.scripted")
    assert stats is not None
    assert stats.executions == 0
    assert not ran.is_set()


def test_a_bad_missing_is_refused() -> None:
    with create_concurrent_event_broker([{"handler": add_handler()}]) as handle:
        with pytest.raises(ValueError, match="missing must be"):
            handle.resolve(scripted_event(), missing="None")  # type: ignore[call-overload]
        with pytest.raises(ValueError, match="missing must be"):
            handle.resolve_async(scripted_event(), missing=None)  # type: ignore[call-overload]


def _resolving_handler(prefetch: int) -> tuple[dict[str, Any], list[Any]]:
    """A handler that resolves its ``inner`` events from inside; outcomes are recorded."""
    outcomes: list[Any] = []
    holder: dict[str, Any] = {}

    def script(event: ArvoEvent) -> list[ArvoEvent]:
        if event.data.get("inner"):
            return [reply(event, data={"inner": True})]
        try:
            inner = scripted_event(source="com.test.caller", inner=True)
            outcomes.append(holder["handle"].resolve(inner, timeout=WAIT_S))
        except Exception as error:
            outcomes.append(error)
        return []

    entry = {"handler": ScriptedHandler("com.test.scripted", script), "prefetch": prefetch}
    holder["entry"] = entry
    return holder, outcomes


def test_resolve_inside_a_handler_at_prefetch_one_raises_instead_of_deadlocking() -> None:
    holder, outcomes = _resolving_handler(prefetch=1)
    with create_concurrent_event_broker([holder["entry"]]) as handle:
        holder["handle"] = handle
        handle.broker.publish(scripted_event())
        handle.broker.wait_for_idle(2 * WAIT_S)
        stats = handle.handler_stats("com.test.scripted")
    [outcome] = outcomes
    assert isinstance(outcome, WaitInHandlerError)
    assert outcome.operation == "resolve"
    assert "com.test.scripted" in str(outcome)
    assert stats is not None
    assert stats.executions == 1  # the inner event was never published


def test_resolve_inside_a_handler_with_a_free_slot_runs() -> None:
    holder, outcomes = _resolving_handler(prefetch=2)
    with create_concurrent_event_broker([holder["entry"]]) as handle:
        holder["handle"] = handle
        handle.broker.publish(scripted_event())
        handle.broker.wait_for_idle(2 * WAIT_S)
    [outcome] = outcomes
    assert outcome.data == {"inner": True}
