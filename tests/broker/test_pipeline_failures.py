"""Middleware failures count as failed, are reported and are not retried (issue 10, item 9)."""

from __future__ import annotations

from typing import Any

import pytest

from arvo_concurrent.arvo import ArvoEvent
from arvo_concurrent.broker.errors import ResolveError
from arvo_concurrent.broker.factory import create_concurrent_event_broker
from arvo_concurrent.broker.middleware import MiddlewareError
from tests.broker.support import WAIT_S, Errors, ScriptedHandler, reply, scripted_event


def _answering(calls: list[Any]) -> ScriptedHandler:
    def answer(event: ArvoEvent) -> list[ArvoEvent]:
        calls.append(event)
        return [reply(event, data={"n": 1})]

    return ScriptedHandler("com.test.scripted", answer)


def _broken(*args: Any) -> Any:
    raise RuntimeError("middleware broke")


@pytest.mark.parametrize("output", [[_broken], _broken], ids=["per-event", "bulk"])
def test_a_raising_output_middleware_counts_the_event_as_failed_not_succeeded(
    output: Any,
) -> None:
    calls: list[Any] = []
    errors = Errors()
    entry = {
        "handler": _answering(calls),
        "middleware": {"output": output},
        "retry": {"max_retries": 3},
    }
    with create_concurrent_event_broker([entry], on_broker_error=errors) as handle:
        handle.broker.publish(scripted_event())
        handle.broker.wait_for_idle(WAIT_S)
        stats = handle.handler_stats("com.test.scripted")
    assert stats is not None
    assert (stats.executions, stats.retries, stats.succeeded, stats.failed) == (1, 0, 0, 1)
    assert len(calls) == 1  # not retried: the handler already ran
    [(error, event)] = errors.calls
    assert isinstance(error, MiddlewareError)
    assert error.stage == "output"
    assert "not retried" in " ".join(error.__notes__)
    assert event.type == "com.test.scripted"


def test_a_raising_input_middleware_counts_the_event_as_failed() -> None:
    calls: list[Any] = []
    errors = Errors()
    entry = {"handler": _answering(calls), "middleware": {"input": [_broken]}}
    with create_concurrent_event_broker([entry], on_broker_error=errors) as handle:
        handle.broker.publish(scripted_event())
        handle.broker.wait_for_idle(WAIT_S)
        stats = handle.handler_stats("com.test.scripted")
    assert stats is not None
    assert (stats.executions, stats.succeeded, stats.failed) == (0, 0, 1)
    assert calls == []
    [(error, _)] = errors.calls
    assert isinstance(error, MiddlewareError)
    assert error.stage == "input"


def test_an_output_middleware_failure_is_what_resolve_raises() -> None:
    entry = {"handler": _answering([]), "middleware": {"output": [_broken]}}
    handle = create_concurrent_event_broker([entry], on_broker_error=Errors())
    with handle, pytest.raises(ResolveError, match="middleware broke") as raised:
        handle.resolve(scripted_event(), timeout=WAIT_S)
    [(error, _)] = raised.value.errors
    assert isinstance(error, MiddlewareError)
