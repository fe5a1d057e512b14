"""Contracts, versions, naming rules (docs/arvo-model.md §2) and the schema helpers."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    PARENT_SUBJECT_FIELD,
    ArvoContract,
    ArvoContractError,
    ArvoErrorSchema,
    SchemaValidationError,
    create_arvo_contract,
    create_arvo_orchestrator_contract,
    create_simple_arvo_contract,
    decode_data,
    parse_data,
    parse_dataschema,
)
from tests.arvo.contracts import (
    AtLeastTwoNumbersInput,
    NumberResult,
    NumbersInput,
    WeightedAverageInput,
    add_contract,
    average_workflow_contract,
    product_contract,
)


class Empty(msgspec.Struct):
    pass


class WithDefaults(msgspec.Struct):
    name: str
    count: Annotated[int, msgspec.Meta(ge=0)] = 0
    tags: list[str] = msgspec.field(default_factory=list)
    label: str = msgspec.field(default="x", name="displayLabel")


def contract(**overrides: Any) -> ArvoContract:
    fields: dict[str, Any] = {
        "uri": "#/test/thing",
        "type": "com.test.thing",
        "versions": {"1.0.0": {"accepts": Empty, "emits": {"evt.test.thing.done": Empty}}},
    }
    fields.update(overrides)
    return create_arvo_contract(**fields)


# ---- naming rules ----

BAD_CONTRACTS = [
    ({"uri": ""}, ""),
    ({"uri": "a b"}, "a b"),
    ({"type": "com.test"}, "com.test"),
    ({"type": "Com.test.thing"}, "Com.test.thing"),
    ({"type": "arvo.orc.thing"}, "arvo.orc.thing"),
    ({"type": "arvo.orchard.thing"}, "arvo.orchard.thing"),  # a plain prefix test, as in TS
    ({"domain": "Bad Domain"}, "Bad Domain"),
    ({"versions": {}}, {}),
    ({"versions": {"1.0": {"accepts": Empty, "emits": {}}}}, "1.0"),
    ({"versions": {"0.0.0": {"accepts": Empty, "emits": {}}}}, "0.0.0"),
    ({"versions": {"1.0.0": {"accepts": dict, "emits": {}}}}, dict),
    ({"versions": {"1.0.0": {"accepts": Empty, "emits": {"evt.bad": Empty}}}}, "evt.bad"),
    (
        {"versions": {"1.0.0": {"accepts": Empty, "emits": {"arvo.orc.x.done": Empty}}}},
        "arvo.orc.x.done",
    ),
    ({"versions": {"1.0.0": {"accepts": Empty, "emits": {"evt.a.b": "S"}}}}, "S"),
    ({"versions": {"1.0.0": {"accepts": Empty, "emits": ["evt.a.b"]}}}, ["evt.a.b"]),
    ({"description": 5}, 5),
]


@pytest.mark.parametrize(("overrides", "value"), BAD_CONTRACTS)
def test_a_contract_breaking_a_naming_rule_is_rejected_naming_the_value(
    overrides: dict[str, Any], value: object
) -> None:
    with pytest.raises(ArvoContractError) as caught:
        contract(**overrides)
    assert caught.value.value == value
    assert repr(value) in str(caught.value) or str(value) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_contract_fields_and_system_error() -> None:
    made = contract(domain="some.domain", description="d", metadata={"k": "v"})
    assert (made.uri, made.type, made.domain, made.description) == (
        "#/test/thing",
        "com.test.thing",
        "some.domain",
        "d",
    )
    assert made.metadata == {"k": "v"}
    assert made.system_error.type == "sys.com.test.thing.error"
    assert made.system_error.schema is ArvoErrorSchema


def test_contracts_refuse_attribute_assignment() -> None:
    with pytest.raises(AttributeError, match="immutable"):
        add_contract.type = "com.other.type"
    with pytest.raises(AttributeError, match="immutable"):
        add_contract.version("1.0.0").version = "2.0.0"
    assert add_contract.type == "com.calculator.add"


# ---- versions ----


def multi_version() -> ArvoContract:
    spec = {"accepts": Empty, "emits": {"evt.test.thing.done": Empty}}
    return contract(versions={"1.10.0": spec, "1.2.0": spec, "0.9.1": spec})


@pytest.mark.parametrize(
    ("selector", "version"),
    [("latest", "1.10.0"), ("any", "1.10.0"), ("oldest", "0.9.1"), ("1.2.0", "1.2.0")],
)
def test_version_selection_compares_semver_numerically(selector: str, version: str) -> None:
    assert multi_version().version(selector).version == version


def test_version_list_is_sorted_ascending() -> None:
    assert multi_version().version_list == ["0.9.1", "1.2.0", "1.10.0"]


@pytest.mark.parametrize("version", ["2.0.0", "0.0.0", "newest"])
def test_an_unknown_version_is_an_error_naming_it(version: str) -> None:
    with pytest.raises(ArvoContractError) as caught:
        multi_version().version(version)
    assert str(caught.value) == f"The contract (uri=#/test/thing) does not have version={version}"


def test_versioned_contract_exposes_the_version_view() -> None:
    versioned = add_contract.version("1.0.0")
    assert versioned.contract is add_contract
    assert versioned.uri == "#/org/amas/calculator/add"
    assert versioned.type == "com.calculator.add"
    assert versioned.accepts.type == "com.calculator.add"
    assert versioned.accepts.schema is NumbersInput
    assert versioned.emits == {"evt.calculator.add.success": NumberResult}
    assert [(e.type, e.schema) for e in versioned.emit_list] == [
        ("evt.calculator.add.success", NumberResult)
    ]
    assert versioned.dataschema == "#/org/amas/calculator/add/1.0.0"
    assert versioned.system_error.type == "sys.com.calculator.add.error"
    assert versioned.system_error.dataschema == "#/org/amas/calculator/add/0.0.0"
    assert versioned.system_error.schema is ArvoErrorSchema
    assert versioned.domain is None
    assert versioned.metadata == {}


# ---- simple and orchestrator contracts ----


def test_simple_contract_types_and_metadata() -> None:
    versioned = product_contract.version("latest")
    assert product_contract.type == "com.calculator.product"
    assert list(versioned.emits) == ["evt.calculator.product.success"]
    assert product_contract.system_error.type == "sys.com.calculator.product.error"
    assert product_contract.metadata == {
        "contractType": "SimpleArvoContract",
        "rootType": "calculator.product",
    }


@pytest.mark.parametrize("type_", ["", "Calculator.x", "a..b"])
def test_simple_contract_rejects_a_bad_type(type_: str) -> None:
    with pytest.raises(ArvoContractError) as caught:
        create_simple_arvo_contract(
            uri="#/x", type=type_, versions={"1.0.0": {"accepts": Empty, "emits": Empty}}
        )
    assert type_ in str(caught.value)


def test_orchestrator_contract_types_and_metadata() -> None:
    assert average_workflow_contract.type == "arvo.orc.workflow.average"
    assert average_workflow_contract.system_error.type == "sys.arvo.orc.workflow.average.error"
    assert average_workflow_contract.metadata == {
        "contractType": "ArvoOrchestratorContract",
        "rootType": "workflow.average",
        "completeEventType": "arvo.orc.workflow.average.done",
        "initEventType": "arvo.orc.workflow.average",
    }
    versioned = average_workflow_contract.version("1.0.0")
    assert list(versioned.emits) == ["arvo.orc.workflow.average.done"]


def test_orchestrator_accepts_requires_parent_subject_first() -> None:
    schema = average_workflow_contract.version("1.0.0").accepts.schema
    with pytest.raises(SchemaValidationError, match=r"parentSubject\$\$") as caught:
        parse_data(schema, {"numbers": [1, 2]})
    assert caught.value.path == "$.parentSubject$$"
    parsed = parse_data(schema, {"numbers": [1, 2], PARENT_SUBJECT_FIELD: None, "extra": 1})
    assert list(parsed) == [PARENT_SUBJECT_FIELD, "numbers"]
    assert decode_data(schema, parsed).parent_subject is None  # type: ignore[attr-defined]


def test_orchestrator_parent_subject_must_be_non_empty() -> None:
    schema = average_workflow_contract.version("1.0.0").accepts.schema
    with pytest.raises(SchemaValidationError) as caught:
        parse_data(schema, {"numbers": [1, 2], PARENT_SUBJECT_FIELD: ""})
    assert caught.value.path == "$.parentSubject$$"


def test_orchestrator_accepts_keeps_the_init_fields_defaults_and_renames() -> None:
    made = create_arvo_orchestrator_contract(
        uri="#/x",
        name="with.defaults",
        versions={"1.0.0": {"init": WithDefaults, "complete": Empty}},
    )
    schema = made.version("1.0.0").accepts.schema
    assert parse_data(schema, {PARENT_SUBJECT_FIELD: "p", "name": "n"}) == {
        PARENT_SUBJECT_FIELD: "p",
        "name": "n",
        "count": 0,
        "tags": [],
        "displayLabel": "x",
    }


class ClashingInit(msgspec.Struct):
    parent: str = msgspec.field(name="parentSubject$$")


@pytest.mark.parametrize(
    ("overrides", "value"),
    [
        ({"name": "Bad Name"}, "Bad Name"),
        ({"name": "trailing."}, "arvo.orc.trailing."),
        ({"versions": {"1.0.0": {"init": dict, "complete": Empty}}}, dict),
        ({"versions": {"1.0.0": {"init": ClashingInit, "complete": Empty}}}, ClashingInit),
        ({"versions": {"1.0.0": {"init": Empty, "complete": None}}}, None),
    ],
)
def test_orchestrator_contract_rejects_bad_input(overrides: dict[str, Any], value: object) -> None:
    fields: dict[str, Any] = {
        "uri": "#/x",
        "name": "good.name",
        "versions": {"1.0.0": {"init": Empty, "complete": Empty}},
    }
    fields.update(overrides)
    with pytest.raises(ArvoContractError) as caught:
        create_arvo_orchestrator_contract(**fields)
    assert caught.value.value == value


# ---- schema helpers ----


def test_decode_strips_unknown_keys_and_applies_defaults() -> None:
    decoded = decode_data(WithDefaults, {"name": "n", "unknown": 1})
    assert decoded == WithDefaults(name="n", count=0, tags=[], label="x")
    assert parse_data(WithDefaults, {"name": "n", "displayLabel": "y"}) == {
        "name": "n",
        "count": 0,
        "tags": [],
        "displayLabel": "y",
    }


def test_decode_converts_ints_to_floats() -> None:
    assert decode_data(NumbersInput, {"numbers": [1, 2.5]}).numbers == [1.0, 2.5]


@pytest.mark.parametrize(
    ("schema", "data", "path", "msgspec_text"),
    [
        (NumbersInput, {"numbers": [1, "x"]}, "$.numbers[1]", "Expected `float`, got `str`"),
        (NumbersInput, {}, "$.numbers", "missing required field `numbers`"),
        (NumbersInput, {"numbers": "1,2"}, "$.numbers", "Expected `array`, got `str`"),
        (AtLeastTwoNumbersInput, {"numbers": [1]}, "$.numbers", "length >= 2"),
        (WithDefaults, {"name": "n", "count": -1}, "$.count", "Expected `int` >= 0"),
        (
            WeightedAverageInput,
            {"input": [{"value": 1, "weight": 2}, {"value": 1, "weight": 0}]},
            "$.input[0].weight",
            "Expected `float` <= 1",
        ),
        (NumbersInput, [1, 2], "$", "Expected `object`, got `array`"),
    ],
)
def test_validation_errors_name_the_field_path_and_keep_msgspec_text(
    schema: type[msgspec.Struct], data: Any, path: str, msgspec_text: str
) -> None:
    with pytest.raises(SchemaValidationError) as caught:
        decode_data(schema, data, error_prefix="Prefix: ")
    error = caught.value
    assert error.path == path
    assert str(error).startswith(f"Prefix: {schema.__name__} at {path}: ")
    assert msgspec_text in str(error)
    assert error.schema is schema
    assert error.data is data
    assert isinstance(error, ValueError)


def test_a_struct_is_validated_again() -> None:
    unchecked = AtLeastTwoNumbersInput(numbers=[1.0])  # Struct construction checks nothing
    with pytest.raises(SchemaValidationError, match="length >= 2"):
        decode_data(AtLeastTwoNumbersInput, unchecked)
    assert parse_data(NumberResult, NumberResult(result=2.0)) == {"result": 2.0}


@pytest.mark.parametrize(
    ("dataschema", "parsed"),
    [
        ("#/org/amas/calculator/add/1.0.0", ("#/org/amas/calculator/add", "1.0.0")),
        ("#/a/0.0.0", ("#/a", "0.0.0")),
        ("uri/with/many/parts/10.20.30", ("uri/with/many/parts", "10.20.30")),
        ("#/org/amas/calculator/add", None),
        ("#/org/1.0", None),
        ("/1.0.0", None),
        ("1.0.0", None),
        (None, None),
    ],
)
def test_parse_dataschema(dataschema: str | None, parsed: tuple[str, str] | None) -> None:
    assert parse_dataschema(dataschema) == parsed
