"""The library's one error tree: one timeout error, subclassed where callers tell waits apart."""

from __future__ import annotations

import inspect
import threading

import pytest

import arvo_concurrent
from arvo_concurrent import (
    ConcurrentEventBroker,
    IdleTimeoutError,
    MemoryTimeoutError,
    ResolveTimeoutError,
    WaitTimeoutError,
    create_concurrent_event_broker,
)
from arvo_concurrent.memory.reply import Reply
from tests.broker.support import WAIT_S, ScriptedHandler, scripted_event


def test_every_timeout_error_of_the_library_is_a_wait_timeout_error() -> None:
    timeouts = {
        obj
        for name in arvo_concurrent.__all__
        if inspect.isclass(obj := getattr(arvo_concurrent, name)) and issubclass(obj, TimeoutError)
    }
    assert timeouts == {WaitTimeoutError, IdleTimeoutError, ResolveTimeoutError, MemoryTimeoutError}
    for error in timeouts:
        assert issubclass(error, WaitTimeoutError)
        assert issubclass(error, arvo_concurrent.ArvoConcurrentError)


def test_an_unanswered_reply_times_out_with_the_tree_timeout() -> None:
    with pytest.raises(WaitTimeoutError, match="within 0 s") as info:
        Reply[int]().wait(0)
    assert info.value.timeout == 0


def test_memory_timeout_names_its_wait_both_ways() -> None:
    error = MemoryTimeoutError("m-1", "lock", 1.5)
    assert (error.timeout, error.timeout_s, error.machine_id) == (1.5, 1.5, "m-1")


def test_broker_waits_that_time_out_carry_their_timeout() -> None:
    gate = threading.Event()
    started = threading.Event()

    def hold(event: object) -> list[object]:
        started.set()
        assert gate.wait(WAIT_S)
        return []

    handler = ScriptedHandler("com.test.scripted", hold)
    with create_concurrent_event_broker([{"handler": handler, "prefetch": 2}]) as handle:
        broker: ConcurrentEventBroker = handle.broker
        broker.publish(scripted_event(source="com.test.outside"))
        assert started.wait(WAIT_S)  # held until the gate opens: the broker stays busy
        with pytest.raises(ResolveTimeoutError) as resolving:
            handle.resolve(scripted_event(), timeout=0.01)
        with pytest.raises(IdleTimeoutError) as idling:
            broker.wait_for_idle(timeout=0)
        gate.set()
        broker.wait_for_idle(WAIT_S)
    assert isinstance(resolving.value, WaitTimeoutError)
    assert (resolving.value.timeout, idling.value.timeout) == (0.01, 0)
