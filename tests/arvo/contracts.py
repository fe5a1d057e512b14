"""The five contracts of the @arvo-tools/concurrent tests, as in fixtures/arvo-ts/contracts.json.

Shared by the Arvo model, handler and broker tests.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from arvo_concurrent.arvo import (
    ArvoErrorSchema,
    create_arvo_contract,
    create_arvo_orchestrator_contract,
    create_simple_arvo_contract,
)

AtLeastTwoNumbers = Annotated[list[float], msgspec.Meta(min_length=2)]
Weight = Annotated[float, msgspec.Meta(ge=0, le=1)]


class NumbersInput(msgspec.Struct):
    numbers: list[float]


class AtLeastTwoNumbersInput(msgspec.Struct):
    numbers: AtLeastTwoNumbers


class NumberResult(msgspec.Struct):
    result: float


class ApprovalRequest(msgspec.Struct):
    prompt: str


class ApprovalResult(msgspec.Struct):
    approval: bool


class AverageResult(msgspec.Struct):
    success: bool
    average: float | None
    errors: list[ArvoErrorSchema] | None


class WeightedValue(msgspec.Struct):
    value: float
    weight: Weight


class WeightedAverageInput(msgspec.Struct):
    input: Annotated[list[WeightedValue], msgspec.Meta(min_length=2)]


class WeightedAverageOutput(msgspec.Struct):
    output: float | None


# add is a plain ArvoContract in the TS tests (its metadata is empty), not a simple contract.
add_contract = create_arvo_contract(
    uri="#/org/amas/calculator/add",
    type="com.calculator.add",
    description="This service provides the sum of all the numbers provided to it.",
    versions={
        "1.0.0": {"accepts": NumbersInput, "emits": {"evt.calculator.add.success": NumberResult}}
    },
)

product_contract = create_simple_arvo_contract(
    uri="#/org/amas/calculator/product",
    type="calculator.product",
    description="This service provides the product of all the numbers provided to it.",
    versions={"1.0.0": {"accepts": AtLeastTwoNumbersInput, "emits": NumberResult}},
)

human_approval_contract = create_simple_arvo_contract(
    uri="#/org/amas/external/human_approval",
    type="human.approval",
    domain="human.interaction",
    description="This is a service which gets approval from the human based on the provided prompt",
    versions={"1.0.0": {"accepts": ApprovalRequest, "emits": ApprovalResult}},
)

average_workflow_contract = create_arvo_orchestrator_contract(
    uri="#/org/amas/calculator/average",
    name="workflow.average",
    versions={"1.0.0": {"init": AtLeastTwoNumbersInput, "complete": AverageResult}},
)

weighted_average_contract = create_arvo_orchestrator_contract(
    uri="#/org/amas/resumable/weighted_average",
    name="weighted.average",
    description="A service which calculates the weighted average of the input",
    versions={"1.0.0": {"init": WeightedAverageInput, "complete": WeightedAverageOutput}},
)

ALL_CONTRACTS = {
    "add": add_contract,
    "product": product_contract,
    "human_approval": human_approval_contract,
    "average_workflow": average_workflow_contract,
    "weighted_average": weighted_average_contract,
}
