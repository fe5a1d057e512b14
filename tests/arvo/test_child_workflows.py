"""Child workflows (docs/arvo-model.md §5.5): a workflow calls an orchestrator as a service."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    ArvoEvent,
    ArvoOrchestrationSubject,
    ExecutionViolation,
    IArvoEventHandler,
    create_arvo_event_factory,
    create_arvo_orchestrator_contract,
)
from arvo_concurrent.arvo.machine import assign, emit, setup_arvo_machine
from arvo_concurrent.arvo.orchestrator import ArvoOrchestrator, create_arvo_orchestrator
from arvo_concurrent.arvo.resumable import ArvoResumable, create_arvo_resumable
from tests.arvo.contracts import average_workflow_contract, weighted_average_contract
from tests.arvo.handlers import (
    TEST_SOURCE,
    add_handler,
    average_orchestrator,
    human_approval_handler,
    product_handler,
    route_events,
    weighted_average_resumable,
)
from tests.arvo.recording_memory import RecordingMemory


class ParentInit(msgspec.Struct):
    numbers: list[float]


class ParentDone(msgspec.Struct):
    average: float | None


parent_contract = create_arvo_orchestrator_contract(
    uri="#/test/parent",
    name="parent.workflow",
    versions={"1.0.0": {"init": ParentInit, "complete": ParentDone}},
)
PARENT = "arvo.orc.parent.workflow"
parent_factory = create_arvo_event_factory(parent_contract.version("1.0.0"))


def parent_init(numbers: list[float]) -> ArvoEvent:
    return parent_factory.accepts(
        source=TEST_SOURCE, data={"parentSubject$$": None, "numbers": numbers}
    )


def parent_resumable(memory: RecordingMemory, parent_subject: str | None) -> ArvoResumable:
    """Calls the average workflow; ``parent_subject`` "own" links it explicitly."""

    def fn(input: ArvoEvent | None, service: ArvoEvent) -> dict[str, Any]:
        if input is not None:
            data: dict[str, Any] = {"numbers": input.data["numbers"]}
            if parent_subject is not None:
                data["parentSubject$$"] = (
                    input.subject if parent_subject == "own" else parent_subject
                )
            return {"services": [{"type": "arvo.orc.workflow.average", "data": data}]}
        if service.type == "arvo.orc.workflow.average.done":
            return {"output": {"average": service.data["average"]}}
        raise RuntimeError(f"child failed: {service.data['errorMessage']}")

    return create_arvo_resumable(
        contracts={
            "self": parent_contract,
            "services": {"average": average_workflow_contract.version("1.0.0")},
        },
        memory=memory,
        handler={"1.0.0": fn},
    )


def parent_orchestrator(memory: RecordingMemory) -> ArvoOrchestrator:
    """Calls the weighted-average resumable with equal weights."""
    machine = setup_arvo_machine(
        contracts={
            "self": parent_contract.version("1.0.0"),
            "services": {"weighted": weighted_average_contract.version("1.0.0")},
        }
    ).create_machine(
        id="parent",
        context=lambda input: {"numbers": input.data["numbers"], "average": None},
        output=lambda context: {"average": context["average"]},
        initial="calling",
        states={
            "calling": {
                "entry": emit(
                    lambda context: {
                        "type": "arvo.orc.weighted.average",
                        "data": {
                            "input": [
                                {"value": n, "weight": 1 / len(context["numbers"])}
                                for n in context["numbers"]
                            ]
                        },
                    }
                ),
                "on": {
                    "arvo.orc.weighted.average.done": {
                        "target": "done",
                        "actions": assign(average=lambda event: event.data["output"]),
                    },
                    "sys.arvo.orc.weighted.average.error": "failed",
                },
            },
            "done": {"type": "final"},
            "failed": {"type": "final"},
        },
    )
    return create_arvo_orchestrator(machines=[machine], memory=memory)


@pytest.mark.parametrize("link", [None, "own"], ids=["linked-by-default", "linked-explicitly"])
def test_a_child_orchestrator_completes_back_into_its_parent(link: str | None) -> None:
    memory = RecordingMemory()
    init = parent_init([2, 4, 6, 8])
    handlers: list[IArvoEventHandler] = [
        add_handler(),
        product_handler(),
        average_orchestrator(memory),
    ]
    routed = route_events([*handlers, parent_resumable(memory, link)], init)
    assert [e.type for e in routed] == [
        PARENT,
        "arvo.orc.workflow.average",
        "com.calculator.add",
        "evt.calculator.add.success",
        "com.calculator.product",
        "evt.calculator.product.success",
        "arvo.orc.workflow.average.done",
        f"{PARENT}.done",
    ]
    child_init, child_done, parent_done = routed[1], routed[-2], routed[-1]

    child = ArvoOrchestrationSubject.parse(child_init.subject)
    assert (child.orchestrator.name, child.execution.initiator) == (
        "arvo.orc.workflow.average",
        PARENT,
    )
    assert child.meta == {"redirectto": PARENT}
    assert child_init.data["parentSubject$$"] == init.subject
    assert (child_init.parentid, child_init.redirectto) == (init.id, PARENT)

    assert (child_done.subject, child_done.to, child_done.parentid) == (
        init.subject,
        PARENT,
        child_init.id,
    )
    assert (parent_done.subject, parent_done.to, parent_done.parentid) == (
        init.subject,
        TEST_SOURCE,
        init.id,
    )
    assert parent_done.data == {"average": 5.0}
    assert memory.store == {}


def test_an_orchestrator_parent_gets_its_resumable_child_result() -> None:
    memory = RecordingMemory()
    handlers: list[IArvoEventHandler] = [
        add_handler(),
        product_handler(),
        human_approval_handler(),
        weighted_average_resumable(memory),
        parent_orchestrator(memory),
    ]
    init = parent_init([10, 20])
    done = route_events(handlers, init)[-1]
    assert (done.type, done.to, done.subject) == (f"{PARENT}.done", TEST_SOURCE, init.subject)
    assert done.data == {"average": 7.5}


def test_a_failing_child_reports_to_its_parent() -> None:
    memory = RecordingMemory()
    handlers: list[IArvoEventHandler] = [
        human_approval_handler(approve=False),
        weighted_average_resumable(memory),
        parent_orchestrator(memory),
    ]
    init = parent_init([10, 20])
    routed = route_events(handlers, init)
    child_error = routed[-2]
    assert child_error.type == "sys.arvo.orc.weighted.average.error"
    assert (child_error.subject, child_error.to) == (init.subject, PARENT)
    assert child_error.data["errorMessage"] == "Unable to obtain human approval"
    assert routed[-1].data == {"average": None}
    assert routed[-1].to == TEST_SOURCE


def test_an_invalid_explicit_parent_subject_is_an_execution_violation() -> None:
    resumable = parent_resumable(RecordingMemory(), parent_subject="not-a-subject")
    with pytest.raises(ExecutionViolation, match="Invalid parentSubject\\$\\$"):
        resumable.execute(parent_init([1, 2]))
