"""Locked workflows through the broker: fan-ins complete, a stale holder completes nothing.

Each workflow is an Arvo resumable on a ConcurrentMachineMemory with the default lock
settings, whose clock is a ManualScheduler: a step's work is modelled by moving that
clock inside the locked section, so the lock waits and lease expiries happen exactly
as they would with that much real work, without the test taking that long or
depending on the machine's load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from arvo_concurrent import (
    ArvoEvent,
    ConcurrentEventBrokerHandle,
    ConcurrentMachineMemory,
    create_arvo_contract,
    create_arvo_event_handler,
    create_arvo_orchestrator_contract,
    create_arvo_resumable,
    create_concurrent_event_broker,
)
from arvo_concurrent.arvo import create_arvo_orchestrator_event_factory
from arvo_concurrent.testing import ManualScheduler

CLIENT = "com.test.client"
WAIT_S = 30.0


class Call(msgspec.Struct):
    n: int


class Count(msgspec.Struct):
    n: int


service_contract = create_arvo_contract(
    uri="#/test/locked/service",
    type="com.test.locked.service",
    versions={"1.0.0": {"accepts": Call, "emits": {"evt.test.locked.service.success": Call}}},
)
fan_in_contract = create_arvo_orchestrator_contract(
    uri="#/test/locked/fanin",
    name="test.locked.fanin",
    versions={"1.0.0": {"init": Count, "complete": Count}},
)
FAN_IN = create_arvo_orchestrator_event_factory(fan_in_contract.version("1.0.0"))


def _echo(data: Call) -> dict[str, Any]:
    return {"type": "evt.test.locked.service.success", "data": {"n": data.n}}


service = create_arvo_event_handler(contract=service_contract, handler={"1.0.0": _echo})

# A reply step: (state of the workflow so far) -> (new state, completion or None).
Step = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any] | None]]


def fan_in(memory: ConcurrentMachineMemory, step: Step) -> Any:
    """A resumable that calls the service ``n`` times at once and runs ``step`` per reply."""

    def handler(input: ArvoEvent | None, context: dict[str, Any] | None) -> dict[str, Any]:
        if input is not None:
            calls = [
                {"type": "com.test.locked.service", "data": {"n": i}}
                for i in range(int(input.data["n"]))
            ]
            return {"context": {"expected": int(input.data["n"]), "count": 0}, "services": calls}
        assert context is not None
        state, output = step(context)
        return {"context": state} if output is None else {"context": state, "output": output}

    return create_arvo_resumable(
        contracts={
            "self": fan_in_contract,
            "services": {"service": service_contract.version("1.0.0")},
        },
        memory=memory,
        handler={"1.0.0": handler},
    )


class RefusalCountingMemory(ConcurrentMachineMemory):
    """A ConcurrentMachineMemory that counts the ``lock`` calls that returned False."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.refused = 0
        self._count_lock = threading.Lock()

    def lock(self, machine_id: str, owner: object = None) -> bool:
        acquired = super().lock(machine_id, owner)
        if not acquired:
            with self._count_lock:
                self.refused += 1
        return acquired


class Completions:
    """An output middleware that counts the completions a workflow sends its initiator."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self, input: ArvoEvent, output: ArvoEvent) -> ArvoEvent:
        if output.to == CLIENT:
            with self._cond:
                self.count += 1
                self._cond.notify_all()
        return output

    def wait_for(self, n: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, WAIT_S)


@contextmanager
def running(
    memory: ConcurrentMachineMemory, step: Step, prefetch: int, completions: Completions
) -> Iterator[tuple[ConcurrentEventBrokerHandle, list[tuple[Exception, Any]]]]:
    errors: list[tuple[Exception, Any]] = []
    handlers = [
        {
            "handler": fan_in(memory, step),
            "prefetch": prefetch,
            "middleware": {"output": [completions]},
        },
        {"handler": service, "prefetch": 50},
    ]
    with create_concurrent_event_broker(
        handlers, on_broker_error=lambda error, event: errors.append((error, event))
    ) as handle:
        yield handle, errors


def counting_step(clock: ManualScheduler, work_s: float) -> Step:
    """Count the reply, with ``work_s`` of work under the lock; complete at the last one."""

    def step(context: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        clock.advance(work_s)
        count = context["count"] + 1
        done = {"n": count} if count == context["expected"] else None
        return {**context, "count": count}, done

    return step


def _fan_in_completes(replies: int, work_s: float, prefetch: int) -> None:
    clock = ManualScheduler()
    completions = Completions()
    with RefusalCountingMemory(scheduler=clock) as memory:  # default lock settings
        step = counting_step(clock, work_s)
        with running(memory, step, prefetch, completions) as (handle, errors):
            init = FAN_IN.init(source=CLIENT, data={"n": replies, "parentSubject$$": None})
            done = handle.resolve(init, timeout=WAIT_S)
        assert errors == []
        assert done is not None
        assert done.data["n"] == replies
        assert completions.count == 1
        assert memory.refused == 0
    clock.close()


def test_a_20_way_fan_in_with_200_ms_steps_completes_at_prefetch_8() -> None:
    # Seven replies wait behind each step: up to 1.4 s, three times the wait budget.
    _fan_in_completes(replies=20, work_s=0.2, prefetch=8)


def test_w3_50_replies_with_a_20_ms_locked_section_complete_at_prefetch_5() -> None:
    _fan_in_completes(replies=50, work_s=0.02, prefetch=5)


def test_a_reply_whose_lease_expired_mid_step_does_not_complete_the_workflow_again() -> None:
    # Two replies; the workflow completes on the first one it takes. That step stalls
    # past its lease; the other reply takes the lock, completes and cleans up; then
    # the stalled step ends and writes: refused, so it is retried and finds nothing.
    clock = ManualScheduler()
    completions = Completions()
    entered, go = threading.Event(), threading.Event()
    first = threading.Lock()

    def step(context: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        if first.acquire(blocking=False):  # never released: only the first step stalls
            entered.set()
            assert go.wait(WAIT_S)
        return {**context, "count": 1}, {"n": 1}

    with ConcurrentMachineMemory(scheduler=clock, lock_ttl_ms=1000) as memory:
        with running(memory, step, 2, completions) as (handle, errors):
            init = FAN_IN.init(source=CLIENT, data={"n": 2, "parentSubject$$": None})
            result = handle.resolve_async(init)
            assert entered.wait(WAIT_S)
            clock.advance(1.0)  # the stalled step's lease expires
            assert completions.wait_for(1)  # the other reply completed and cleaned up
            go.set()
            done = result.result(WAIT_S)
        assert done is not None
        assert done.data["n"] == 1
        assert completions.count == 1
        assert memory.read(init.subject) is None
        assert errors == []
    clock.close()
