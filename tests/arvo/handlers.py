"""The handlers of @arvo-tools/concurrent's event_broker_factory.test.ts, as importable factories.

``add_handler()``, ``product_handler(delay_s)``, ``human_approval_handler(approve)``,
``average_orchestrator(memory)`` and ``weighted_average_resumable(memory)`` build fresh
handlers; :func:`route_events` runs a workflow without a broker, feeding every output
event to the handler whose ``source`` equals its ``to``; :func:`ts_event` and
:func:`assert_same_as_ts` compare produced events with the TypeScript fixtures.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import msgspec

from arvo_concurrent.arvo import ArvoDomain, ArvoEvent
from arvo_concurrent.arvo.event_handler import ArvoEventHandler, create_arvo_event_handler
from arvo_concurrent.arvo.handler import IArvoEventHandler
from arvo_concurrent.arvo.machine import ArvoMachine, assign, emit, setup_arvo_machine
from arvo_concurrent.arvo.orchestrator import ArvoOrchestrator, create_arvo_orchestrator
from arvo_concurrent.arvo.resumable import ArvoResumable, create_arvo_resumable
from arvo_concurrent.memory import IMachineMemory
from tests.arvo.contracts import (
    AtLeastTwoNumbersInput,
    NumbersInput,
    add_contract,
    average_workflow_contract,
    human_approval_contract,
    product_contract,
    weighted_average_contract,
)
from tests.fixtures import load_arvo_ts

TEST_SOURCE = "test.test.test"


def add_handler() -> ArvoEventHandler:
    """``com.calculator.add``: the sum; raises (-> system error) for an empty list."""

    def add(data: NumbersInput) -> dict[str, Any]:
        if not data.numbers:
            raise ValueError("Numbers array cannot be empty")
        return {
            "type": "evt.calculator.add.success",
            "data": {"result": sum(data.numbers)},
            "executionunits": len(data.numbers) * 1e-6,
        }

    return create_arvo_event_handler(contract=add_contract, handler={"1.0.0": add})


def product_handler(delay_s: float = 0.0) -> ArvoEventHandler:
    """``com.calculator.product``: the product, after ``delay_s`` of simulated work."""

    def product(data: AtLeastTwoNumbersInput) -> dict[str, Any]:
        if delay_s:
            time.sleep(delay_s)
        result = 1.0
        for number in data.numbers:
            result *= number
        return {
            "type": "evt.calculator.product.success",
            "data": {"result": result},
            "executionunits": len(data.numbers) * 1e-6,
        }

    return create_arvo_event_handler(contract=product_contract, handler={"1.0.0": product})


def human_approval_handler(approve: bool = True) -> ArvoEventHandler:
    """``com.human.approval``: answers every prompt with ``approve``."""

    def approval() -> dict[str, Any]:
        return {"type": "evt.human.approval.success", "data": {"approval": approve}}

    return create_arvo_event_handler(contract=human_approval_contract, handler={"1.0.0": approval})


def average_machine() -> ArvoMachine:
    """The ``average.workflow`` machine: add the numbers, then multiply by 1/len."""
    setup = setup_arvo_machine(
        contracts={
            "self": average_workflow_contract.version("1.0.0"),
            "services": {
                "add": add_contract.version("1.0.0"),
                "product": product_contract.version("1.0.0"),
            },
        }
    )
    record_error = assign(errors=lambda context, event: [*context["errors"], event.data])
    return setup.create_machine(
        id="machine",
        context=lambda input: {
            "numbers": input.data["numbers"],
            "sum": None,
            "average": None,
            "errors": [],
        },
        output=lambda context: {
            "average": context["average"],
            "errors": context["errors"] or None,
            "success": not context["errors"],
        },
        initial="add",
        states={
            "add": {
                "entry": emit(
                    lambda context: {
                        "type": "com.calculator.add",
                        "data": {"numbers": context["numbers"]},
                    }
                ),
                "on": {
                    "evt.calculator.add.success": {
                        "target": "divide",
                        "actions": assign(sum=lambda event: event.data["result"]),
                    },
                    "sys.com.calculator.add.error": {"target": "error", "actions": record_error},
                },
            },
            "divide": {
                "entry": emit(
                    lambda context: {
                        "type": "com.calculator.product",
                        "data": {"numbers": [context["sum"] or 0, 1 / len(context["numbers"])]},
                    }
                ),
                "on": {
                    "evt.calculator.product.success": {
                        "target": "done",
                        "actions": assign(average=lambda event: event.data["result"]),
                    },
                    "sys.com.calculator.product.error": {
                        "target": "error",
                        "actions": record_error,
                    },
                },
            },
            "done": {"type": "final"},
            "error": {"type": "final"},
        },
    )


def average_orchestrator(memory: IMachineMemory, **options: Any) -> ArvoOrchestrator:
    """The ``arvo.orc.workflow.average`` orchestrator on ``memory``."""
    return create_arvo_orchestrator(machines=[average_machine()], memory=memory, **options)


APPROVAL_PROMPT = (
    "To calculate the weighted average we will\nemit {count} events to generate\n"
    "the products and then emit add event to add them all\n"
    "and then emit a final product event to calculate\n"
    "average and then emit the final output event.\nDo you approve?"
)

_SERVICE_ERRORS = (
    "sys.com.calculator.add.error",
    "sys.com.calculator.product.error",
    "sys.com.human.approval.error",
)


def _weighted_average(
    input: ArvoEvent | None,
    service: ArvoEvent | None,
    context: dict[str, Any] | None,
    collected_events: dict[str, list[ArvoEvent]],
) -> dict[str, Any] | None:
    if input is not None:
        items = input.data["input"]
        return {
            "context": {
                "currentSubject": input.subject,
                "inputItems": items,
                "humanApproval": None,
                "isWaitingAllProducts": False,
            },
            "services": [
                {
                    "type": "com.human.approval",
                    "domain": [ArvoDomain.FROM_EVENT_CONTRACT],
                    "data": {"prompt": APPROVAL_PROMPT.format(count=len(items))},
                }
            ],
        }
    if context is None or service is None:
        raise RuntimeError("Context not set. Something went wrong...")
    if service.type in _SERVICE_ERRORS:
        raise RuntimeError(f"Something went wrong. {service.data['errorMessage']}")
    if service.type == "evt.human.approval.success":
        return _after_approval(service, context)
    if context["isWaitingAllProducts"]:
        return _after_products(context, collected_events.get("evt.calculator.product.success", []))
    if service.type == "evt.calculator.add.success":
        numbers = [service.data["result"], 1 / len(context["inputItems"])]
        return {"services": [{"type": "com.calculator.product", "data": {"numbers": numbers}}]}
    if service.type == "evt.calculator.product.success":
        return {"output": {"output": service.data["result"]}}
    return None


def _after_approval(service: ArvoEvent, context: dict[str, Any]) -> dict[str, Any]:
    if not service.data["approval"]:
        raise RuntimeError("Unable to obtain human approval")
    return {
        "context": {**context, "humanApproval": True, "isWaitingAllProducts": True},
        "services": [
            {"type": "com.calculator.product", "data": {"numbers": [i["value"], i["weight"]]}}
            for i in context["inputItems"]
        ],
    }


def _after_products(context: dict[str, Any], products: list[ArvoEvent]) -> dict[str, Any] | None:
    if len(products) != len(context["inputItems"]):
        return None
    return {
        "context": {**context, "isWaitingAllProducts": False},
        "services": [
            {
                "type": "com.calculator.add",
                "data": {"numbers": [event.data["result"] for event in products]},
            }
        ],
    }


def weighted_average_resumable(memory: IMachineMemory, **options: Any) -> ArvoResumable:
    """The ``arvo.orc.weighted.average`` resumable on ``memory``."""
    return create_arvo_resumable(
        contracts={
            "self": weighted_average_contract,
            "services": {
                "add": add_contract.version("1.0.0"),
                "product": product_contract.version("1.0.0"),
                "humanApproval": human_approval_contract.version("1.0.0"),
            },
        },
        memory=memory,
        handler={"1.0.0": _weighted_average},
        **options,
    )


def route_events(handlers: Iterable[IArvoEventHandler], first: ArvoEvent) -> list[ArvoEvent]:
    """Run ``first`` through ``handlers`` breadth-first (a broker's routing order).

    Every event (domained ones included) goes to the handler whose ``source`` equals
    its ``to``; events for anyone else (the initiator) end there. Returns every routed
    event in order, ``first`` included.
    """
    by_source = {handler.source: handler for handler in handlers}
    queue = deque([first])
    routed: list[ArvoEvent] = []
    while queue:
        event = queue.popleft()
        routed.append(event)
        handler = by_source.get(event.to or "")
        if handler is not None:
            queue.extend(handler.execute(event))
    return routed


@functools.cache
def _ts_entries() -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in load_arvo_ts("events.json")}


def ts_entry(name: str) -> dict[str, Any]:
    """One entry of the TypeScript fixture events.json (``name``, ``json``, ``event``...)."""
    return _ts_entries()[name]


def ts_event(name: str) -> ArvoEvent:
    """The fixture event ``name`` as an ArvoEvent."""
    return ArvoEvent.from_dict(ts_entry(name)["event"])


def assert_same_as_ts(ours: ArvoEvent, name: str, ids: dict[str, str]) -> None:
    """Assert ``ours`` serialises exactly as the fixture event ``name``, ids and time aside.

    ``ids`` maps fixture ids to ours; ``parentid`` is compared through it and the pair
    of this event's ids is added to it. A system error's ``errorName`` and
    ``errorStack`` (JavaScript's ``Error`` and stack) are exempt; its message is not.
    """
    entry = ts_entry(name)
    theirs = entry["event"]
    assert ours.parentid == ids.get(theirs["parentid"], theirs["parentid"]), "parentid"
    ids[theirs["id"]] = ours.id
    data = ours.data
    if ours.type.startswith("sys."):
        assert data["errorMessage"] == theirs["data"]["errorMessage"]
        data = theirs["data"]
    aligned = msgspec.structs.replace(
        ours, id=theirs["id"], time=theirs["time"], parentid=theirs["parentid"], data=data
    )
    assert aligned.to_json() == entry["json"]
