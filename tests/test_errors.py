"""The library's one error tree: one timeout error, subclassed where callers tell waits apart."""

from __future__ import annotations

import ast
import inspect
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import arvo_concurrent
from arvo_concurrent import (
    ConcurrentEventBroker,
    ConcurrentMachineMemory,
    HandlerConfig,
    IdleTimeoutError,
    MemoryTimeoutError,
    ResolveTimeoutError,
    WaitTimeoutError,
    create_concurrent_event_broker,
)
from arvo_concurrent.broker import SubscriptionError, WorkTracker
from arvo_concurrent.broker.retry import RetryPolicy
from arvo_concurrent.errors import ArgumentError, ArgumentTypeError
from arvo_concurrent.memory.reply import Reply
from arvo_concurrent.testing import ManualScheduler
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


def _bare_raises(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if isinstance(func, ast.Name) and func.id in {"ValueError", "TypeError"}:
                found.append(f"{path.name}:{node.lineno} {func.id}")
    return found


def test_the_library_raises_no_bare_value_or_type_error() -> None:
    package = Path(arvo_concurrent.__file__).parent
    assert [hit for path in sorted(package.rglob("*.py")) for hit in _bare_raises(path)] == []


@pytest.mark.parametrize(
    "bad",
    [
        lambda: ConcurrentEventBroker(max_hops=0),
        lambda: ConcurrentEventBroker(on_error="log"),  # type: ignore[arg-type]
        lambda: RetryPolicy(max_retries=-1),
        lambda: ConcurrentMachineMemory(lock_ttl_ms=0),
        lambda: HandlerConfig(middleware=[]),  # type: ignore[arg-type]
        lambda: ManualScheduler().advance(-1),
        lambda: WorkTracker().done(1),
    ],
)
def test_bad_arguments_are_argument_errors_and_still_value_or_type_errors(
    bad: Callable[[], object],
) -> None:
    with pytest.raises(ArgumentError) as info:
        bad()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, arvo_concurrent.ArvoConcurrentError)
    assert info.value.name
    if isinstance(info.value, ArgumentTypeError):
        assert isinstance(info.value, TypeError)


def test_prefetch_is_refused_with_one_error_type_wherever_it_is_given() -> None:
    handler = ScriptedHandler("com.test.scripted", lambda event: [])
    refusals = []
    for give in (
        lambda: HandlerConfig(handler=handler, prefetch=0),  # type: ignore[arg-type]
        lambda: create_concurrent_event_broker([{"handler": handler, "prefetch": 0}]),
        lambda: create_concurrent_event_broker([{"handler": handler}], {"prefetch": 0}),
    ):
        with pytest.raises(SubscriptionError) as info:
            give()
        refusals.append((info.value.name, info.value.value, str(info.value).split(" (")[0]))
    with ConcurrentEventBroker() as broker, pytest.raises(SubscriptionError) as direct:
        broker.subscribe(lambda event, publish: None, topic="t", prefetch=0)
    assert direct.value.topic == "t"
    expected = ("prefetch", 0, "prefetch must be a positive integer, got 0")
    assert refusals == [expected] * 3
    assert (direct.value.name, direct.value.value) == expected[:2]
