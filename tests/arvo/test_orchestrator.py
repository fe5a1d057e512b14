"""ArvoOrchestrator (docs/arvo-model.md §6): the average workflow, records, errors, construction."""

from __future__ import annotations

from typing import Any

import pytest

from arvo_concurrent.arvo import ArvoEvent, IArvoEventHandler, create_arvo_event_factory
from arvo_concurrent.arvo.event_handler import ArvoEventHandler, create_arvo_event_handler
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.machine import ArvoMachine, assign, emit, setup_arvo_machine
from arvo_concurrent.arvo.orchestrator import create_arvo_orchestrator
from arvo_concurrent.memory import ConcurrentMachineMemory
from tests.arvo.contracts import (
    add_contract,
    average_workflow_contract,
    product_contract,
    weighted_average_contract,
)
from tests.arvo.handlers import (
    TEST_SOURCE,
    add_handler,
    assert_same_as_ts,
    average_machine,
    average_orchestrator,
    product_handler,
    route_events,
    ts_entry,
    ts_event,
)
from tests.arvo.recording_memory import RecordingMemory

init_factory = create_arvo_event_factory(average_workflow_contract.version("1.0.0"))
CONTRACTS = {
    "self": average_workflow_contract.version("1.0.0"),
    "services": {
        "add": add_contract.version("1.0.0"),
        "product": product_contract.version("1.0.0"),
    },
}


def average_init(numbers: list[float]) -> ArvoEvent:
    return init_factory.accepts(
        source=TEST_SOURCE, data={"parentSubject$$": None, "numbers": numbers}
    )


def failing_add() -> ArvoEventHandler:
    def fail() -> None:
        raise ArithmeticError("adder broken")

    return create_arvo_event_handler(contract=add_contract, handler={"1.0.0": fail})


def test_average_run_matches_the_typescript_fixture() -> None:
    first = "average_run.01.arvo.orc.workflow.average"
    handlers: list[IArvoEventHandler] = [
        add_handler(),
        product_handler(),
        average_orchestrator(RecordingMemory()),
    ]
    routed = route_events(handlers, ts_event(first))
    assert len(routed) == 6
    ids = {ts_entry(first)["event"]["id"]: routed[0].id}
    for step, event in enumerate(routed[1:], start=2):
        assert_same_as_ts(event, f"average_run.{step:02d}.{event.type}", ids)


def test_ten_to_fifty_average_to_thirty() -> None:
    handlers: list[IArvoEventHandler] = [
        add_handler(),
        product_handler(),
        average_orchestrator(RecordingMemory()),
    ]
    done = route_events(handlers, average_init([10, 20, 30, 40, 50]))[-1]
    assert done.data == {"success": True, "average": 30.0, "errors": None}


def test_a_run_on_concurrent_machine_memory_leaves_no_state_or_lock() -> None:
    with ConcurrentMachineMemory(lock_max_retries=0) as memory:
        init = average_init([2, 4])
        handlers: list[IArvoEventHandler] = [
            add_handler(),
            product_handler(),
            average_orchestrator(memory),
        ]
        assert route_events(handlers, init)[-1].data["average"] == 3
        assert memory.read(init.subject) is None
        assert memory.lock(init.subject)
        assert memory.unlock(init.subject)


def test_a_service_error_completes_the_workflow_with_success_false() -> None:
    handlers: list[IArvoEventHandler] = [
        failing_add(),
        product_handler(),
        average_orchestrator(RecordingMemory()),
    ]
    routed = route_events(handlers, average_init([1, 2]))
    assert [e.type for e in routed] == [
        "arvo.orc.workflow.average",
        "com.calculator.add",
        "sys.com.calculator.add.error",
        "arvo.orc.workflow.average.done",
    ]
    done = routed[-1]
    assert done.data["success"] is False
    assert done.data["average"] is None
    (error,) = done.data["errors"]
    assert (error["errorName"], error["errorMessage"]) == ("ArithmeticError", "adder broken")


def test_record_after_the_first_step() -> None:
    memory = RecordingMemory()
    init = average_init([1, 2])
    (request,) = average_orchestrator(memory).execute(init)
    record = memory.store[init.subject]
    assert record == {
        "executionStatus": "normal",
        "initEventId": init.id,
        "subject": init.subject,
        "parentSubject": None,
        "status": "active",
        "value": "add",
        "state": {
            "status": "active",
            "value": "add",
            "context": {"numbers": [1, 2], "sum": None, "average": None, "errors": []},
            "output": None,
        },
        "events": {"consumed": init.id, "produced": [request.id]},
    }


def test_an_event_without_transition_writes_nothing() -> None:
    memory = RecordingMemory()
    orchestrator = average_orchestrator(memory)
    (request,) = orchestrator.execute(average_init([1, 2]))
    product_factory = create_arvo_event_factory(product_contract.version("1.0.0"))
    early = product_factory.emits(
        type="evt.calculator.product.success",
        source="com.calculator.product",
        subject=request.subject,
        data={"result": 1},
    )
    writes = len(memory.writes)
    assert orchestrator.execute(early) == []
    assert len(memory.writes) == writes


def test_a_failing_action_emits_a_system_error_and_fails_the_workflow() -> None:
    def explode(event: ArvoEvent) -> dict[str, Any]:
        raise LookupError(f"cannot use {event.data['result']}")

    machine = setup_arvo_machine(contracts=CONTRACTS).create_machine(
        id="fragile",
        initial="add",
        states={
            "add": {
                "entry": emit(lambda: {"type": "com.calculator.add", "data": {"numbers": [1]}}),
                "on": {"evt.calculator.add.success": {"actions": assign(explode)}},
            }
        },
    )
    memory = RecordingMemory()
    orchestrator = create_arvo_orchestrator(machines=[machine], memory=memory, execution_units=3)
    init = average_init([1, 2])
    routed = route_events([add_handler(), orchestrator], init)
    error = routed[-1]
    assert error.type == "sys.arvo.orc.workflow.average.error"
    assert error.data["errorMessage"] == "cannot use 1.0"
    assert (error.to, error.parentid, error.executionunits) == (TEST_SOURCE, init.id, 3)
    assert error.dataschema == "#/org/amas/calculator/average/0.0.0"
    assert memory.store[init.subject]["executionStatus"] == "failure"


def test_execution_units_and_domains_apply_to_service_calls() -> None:
    orchestrator = average_orchestrator(
        RecordingMemory(),
        execution_units=0.5,
        default_event_emission_domains={"services": [None, "remote.calc"]},
    )
    requests = orchestrator.execute(average_init([1, 2]))
    assert [(e.domain, e.executionunits) for e in requests] == [(None, 0.5), ("remote.calc", 0.5)]


def test_a_machine_without_output_finishes_silently() -> None:
    machine = setup_arvo_machine(contracts=CONTRACTS).create_machine(
        id="quiet",
        initial="add",
        states={
            "add": {
                "entry": emit(lambda: {"type": "com.calculator.add", "data": {"numbers": [1]}}),
                "on": {"evt.calculator.add.success": "end"},
            },
            "end": {"type": "final"},
        },
    )
    memory = RecordingMemory()
    routed = route_events(
        [add_handler(), create_arvo_orchestrator(machines=[machine], memory=memory)],
        average_init([1, 2]),
    )
    assert [e.type for e in routed][-1] == "evt.calculator.add.success"
    assert memory.operations()[-3:] == ["write", "cleanup", "unlock"]


def other_machine() -> ArvoMachine:
    return setup_arvo_machine(
        contracts={"self": weighted_average_contract.version("1.0.0"), "services": {}}
    ).create_machine(id="other", initial="a", states={"a": {}})


@pytest.mark.parametrize(
    ("machines", "message"),
    [
        ([], "non-empty"),
        (["machine"], "ArvoMachine objects"),
        ([average_machine(), average_machine()], "Two machines implement version 1.0.0"),
        ([average_machine(), other_machine()], "one orchestrator"),
    ],
)
def test_construction_errors(machines: list[Any], message: str) -> None:
    with pytest.raises(HandlerConfigError, match=message):
        create_arvo_orchestrator(machines=machines, memory=RecordingMemory())


def test_orchestrator_identity() -> None:
    orchestrator = average_orchestrator(RecordingMemory())
    assert orchestrator.source == "arvo.orc.workflow.average"
    assert orchestrator.system_error_schema.type == "sys.arvo.orc.workflow.average.error"
    assert orchestrator.execution_units is None
