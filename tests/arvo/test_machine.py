"""The declarative state machine (docs/arvo-model.md §6.1): steps, guards, actions, bad config."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arvo_concurrent.arvo import ArvoEvent, create_arvo_event_factory
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.injection import HandlerSignatureError
from arvo_concurrent.arvo.machine import ArvoMachine, assign, emit, setup_arvo_machine
from tests.arvo.contracts import (
    add_contract,
    average_workflow_contract,
    product_contract,
)
from tests.arvo.handlers import TEST_SOURCE, average_machine

CONTRACTS = {
    "self": average_workflow_contract.version("1.0.0"),
    "services": {
        "add": add_contract.version("1.0.0"),
        "product": product_contract.version("1.0.0"),
    },
}
init_factory = create_arvo_event_factory(average_workflow_contract.version("1.0.0"))
add_factory = create_arvo_event_factory(add_contract.version("1.0.0"))
product_factory = create_arvo_event_factory(product_contract.version("1.0.0"))


def init_event(numbers: list[float]) -> ArvoEvent:
    return init_factory.accepts(
        source=TEST_SOURCE, data={"parentSubject$$": None, "numbers": numbers}
    )


def add_success(result: float) -> ArvoEvent:
    return add_factory.emits(
        type="evt.calculator.add.success", source="com.calculator.add", data={"result": result}
    )


def product_success(result: float) -> ArvoEvent:
    return product_factory.emits(
        type="evt.calculator.product.success",
        source="com.calculator.product",
        data={"result": result},
    )


def add_error(message: str) -> ArvoEvent:
    return add_factory.system_error(source="com.calculator.add", error=ValueError(message))


def test_average_machine_runs_add_then_divide_to_done() -> None:
    machine = average_machine()
    started = machine.start(init_event([2, 4, 6, 8]))
    assert started.snapshot == {
        "status": "active",
        "value": "add",
        "context": {"numbers": [2, 4, 6, 8], "sum": None, "average": None, "errors": []},
        "output": None,
    }
    assert started.emitted == [{"type": "com.calculator.add", "data": {"numbers": [2, 4, 6, 8]}}]
    assert not started.completed

    added = machine.send(started.snapshot, add_success(20))
    assert (added.snapshot["value"], added.snapshot["context"]["sum"]) == ("divide", 20)
    assert added.emitted == [{"type": "com.calculator.product", "data": {"numbers": [20, 0.25]}}]

    done = machine.send(added.snapshot, product_success(5))
    assert done.completed
    assert done.emitted == []
    assert done.snapshot["status"] == "done"
    assert done.snapshot["output"] == {"average": 5, "errors": None, "success": True}


def test_service_error_reaches_the_error_final_state() -> None:
    machine = average_machine()
    started = machine.start(init_event([1, 2]))
    failed = machine.send(started.snapshot, add_error("no numbers"))
    assert failed.completed
    assert failed.snapshot["value"] == "error"
    output = failed.snapshot["output"]
    assert output["success"] is False
    assert output["average"] is None
    assert [e["errorMessage"] for e in output["errors"]] == ["no numbers"]


def test_events_without_transition_or_after_the_end_change_nothing() -> None:
    machine = average_machine()
    started = machine.start(init_event([1, 2]))
    ignored = machine.send(started.snapshot, product_success(1))
    assert ignored.snapshot == started.snapshot
    assert (ignored.emitted, ignored.completed) == ([], False)
    done = machine.send(
        machine.send(started.snapshot, add_success(3)).snapshot, product_success(1.5)
    ).snapshot
    assert machine.send(done, add_success(3)) == (done, [], False)


def test_steps_never_modify_the_snapshot_they_are_given() -> None:
    machine = average_machine()
    snapshot = machine.start(init_event([1, 2])).snapshot
    frozen = copy.deepcopy(snapshot)
    machine.send(snapshot, add_error("x"))
    machine.send(snapshot, add_success(3))
    assert snapshot == frozen


def counting_machine(**setup: Any) -> ArvoMachine:
    """Counts add successes: ``big`` results finish, others stay (guards pick)."""
    return setup_arvo_machine(contracts=CONTRACTS, **setup).create_machine(
        id="counter",
        context=lambda: {"count": 0, "entered": 0},
        initial="counting",
        output=lambda context: {"success": True, "average": context["count"], "errors": None},
        states={
            "counting": {
                "entry": assign(lambda context: {"entered": context["entered"] + 1}),
                "on": {
                    "evt.calculator.add.success": [
                        {"target": "finished", "guard": "is_big"},
                        {
                            "target": None,
                            "actions": [
                                assign(count=lambda context: context["count"] + 1),
                                "announce",
                            ],
                        },
                    ],
                },
            },
            "finished": {"type": "final"},
        },
    )


def test_guards_choose_the_first_enabled_transition_and_target_none_stays() -> None:
    announce = emit(lambda context: {"type": "com.calculator.add", "data": {"numbers": [1]}})
    machine = counting_machine(
        guards={"is_big": lambda event: event.data["result"] > 100}, actions={"announce": announce}
    )
    started = machine.start(init_event([1, 2]))
    small = machine.send(started.snapshot, add_success(1))
    # target None is an internal transition: no re-entry, so `entered` stays 1.
    assert small.snapshot["context"] == {"count": 1, "entered": 1}
    assert small.emitted == [{"type": "com.calculator.add", "data": {"numbers": [1]}}]
    big = machine.send(small.snapshot, add_success(1000))
    assert big.completed
    assert big.snapshot["output"]["average"] == 1


def test_action_errors_propagate() -> None:
    def explode(context: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError("bad")

    machine = setup_arvo_machine(contracts=CONTRACTS).create_machine(
        id="broken", initial="a", states={"a": {"entry": emit(explode)}}
    )
    with pytest.raises(ZeroDivisionError, match="bad"):
        machine.start(init_event([1, 2]))


def test_context_must_be_a_dict() -> None:
    machine = setup_arvo_machine(contracts=CONTRACTS).create_machine(
        id="m",
        initial="a",
        context=lambda: [1],  # type: ignore[arg-type, return-value]
        states={"a": {}},
    )
    with pytest.raises(TypeError, match="must return a dict"):
        machine.start(init_event([1, 2]))


@pytest.mark.parametrize(
    ("states", "initial", "message"),
    [
        ({"a": {}}, "b", "initial state 'b'"),
        (
            {"a": {"on": {"evt.calculator.add.success": "nowhere"}}},
            "a",
            "unknown target state 'nowhere'",
        ),
        ({"a": {"on": {"evt.calculator.add.sucess": "a"}}}, "a", "'evt.calculator.add.sucess'"),
        ({"a": {"type": "final", "on": {"evt.calculator.add.success": "a"}}}, "a", "is final"),
        ({"a": {"invoke": {}}}, "a", "unsupported keys \\['invoke'\\]"),
        ({"a": {"type": "parallel"}}, "a", "type must be 'final'"),
        ({"a": {"entry": [lambda: None]}}, "a", "is not an assign\\(\\)/emit\\(\\) action"),
        ({"a": {"entry": ["missing"]}}, "a", "'missing'"),
        ({"a": {"on": {"evt.calculator.add.success": {"guard": "nope"}}}}, "a", "unknown guard"),
        ({"a": {"on": {"evt.calculator.add.success": {"after": 1}}}}, "a", "'after'"),
        ({"a": {"on": {"evt.calculator.add.success": 3}}}, "a", "state name or a dict"),
    ],
)
def test_bad_machine_definitions_name_the_problem(
    states: dict[str, Any], initial: str, message: str
) -> None:
    with pytest.raises(HandlerConfigError, match=message):
        setup_arvo_machine(contracts=CONTRACTS).create_machine(
            id="m", initial=initial, states=states
        )


def test_version_must_match_the_self_contract() -> None:
    with pytest.raises(HandlerConfigError, match=r"version '2\.0\.0'"):
        setup_arvo_machine(contracts=CONTRACTS).create_machine(
            id="m", initial="a", states={"a": {}}, version="2.0.0"
        )


def test_action_functions_are_checked_when_built() -> None:
    with pytest.raises(HandlerConfigError, match="needs a function"):
        assign()
    with pytest.raises(HandlerSignatureError, match="'ctx'"):
        assign(total=lambda ctx: 1)
    with pytest.raises(HandlerSignatureError, match="'input'"):
        emit(lambda input: None)
    with pytest.raises(HandlerConfigError, match="must be assign\\(\\) or emit\\(\\)"):
        setup_arvo_machine(contracts=CONTRACTS, actions={"x": lambda: None})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("contracts", "message"),
    [
        ({"self": average_workflow_contract.version("1.0.0")}, "contracts must be"),
        ({**CONTRACTS, "self": average_workflow_contract}, "contract version"),
        ({**CONTRACTS, "self": add_contract.version("1.0.0")}, "orchestrator contract"),
        ({**CONTRACTS, "services": {"add": add_contract}}, "must be a contract version"),
        (
            {
                **CONTRACTS,
                "services": {
                    "a": add_contract.version("1.0.0"),
                    "b": add_contract.version("1.0.0"),
                },
            },
            "share uri",
        ),
        (
            {**CONTRACTS, "services": {"me": average_workflow_contract.version("1.0.0")}},
            "own uri",
        ),
    ],
)
def test_bad_contracts_are_rejected(contracts: dict[str, Any], message: str) -> None:
    with pytest.raises(HandlerConfigError, match=message):
        setup_arvo_machine(contracts=contracts)


def test_machine_exposes_its_identity() -> None:
    machine = average_machine()
    assert (machine.id, machine.version, machine.source) == (
        "machine",
        "1.0.0",
        "arvo.orc.workflow.average",
    )
