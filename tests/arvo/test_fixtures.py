"""Wire compatibility with the JSON the TypeScript packages produced (shared/fixtures/arvo-ts).

A copy of the fixtures ships in ``tests/fixtures/arvo-ts`` so that no test depends on files outside
the repository.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    PARENT_SUBJECT_FIELD,
    ArvoContract,
    ArvoEvent,
    ArvoEventFactory,
    ArvoOrchestrationSubject,
    ArvoOrchestratorEventFactory,
    UriError,
    create_arvo_event,
    create_arvo_event_factory,
    create_arvo_event_id,
    decode_uri,
    encode_uri,
    parse_arvo_event_id,
    validate_uri,
)
from tests.arvo.contracts import (
    ALL_CONTRACTS,
    add_contract,
    average_workflow_contract,
    human_approval_contract,
    product_contract,
)
from tests.fixtures import load_arvo_ts

load = load_arvo_ts


URIS = load("uri.json")
IDS = load("ids.json")
SUBJECTS = load("subjects.json")
EVENTS = load("events.json")
EVENTS_BY_NAME = {entry["name"]: entry for entry in EVENTS}
CONTRACTS = load("contracts.json")
FACTORIES: dict[str, ArvoEventFactory] = {
    "add@1.0.0": create_arvo_event_factory(add_contract.version("1.0.0")),
    "product@1.0.0": create_arvo_event_factory(product_contract.version("1.0.0")),
    "human.approval@1.0.0": create_arvo_event_factory(human_approval_contract.version("1.0.0")),
    "workflow.average@1.0.0": create_arvo_event_factory(average_workflow_contract.version("1.0.0")),
}


def ids(entries: list[dict[str, Any]], key: str) -> list[str]:
    return [f"{index}:{entry[key]!r}"[:60] for index, entry in enumerate(entries)]


# ---- uri.json ----


@pytest.mark.parametrize("entry", URIS, ids=ids(URIS, "input"))
def test_uri_functions_answer_as_javascript(entry: dict[str, Any]) -> None:
    value = entry["input"]
    if entry["encodeURIError"]:
        with pytest.raises(UriError):
            encode_uri(value)
    else:
        assert encode_uri(value) == entry["encodeURI"]
        assert validate_uri(encode_uri(value)) is entry["validateURI_of_encodeURI"]
    if entry["decodeURIError"]:
        with pytest.raises(UriError):
            decode_uri(value)
    else:
        assert decode_uri(value) == entry["decodeURI"]
    assert validate_uri(value) is entry["validateURI"]


def test_uri_fixture_is_complete() -> None:
    assert len(URIS) == 60


# ---- ids.json ----


@pytest.mark.parametrize("entry", IDS, ids=ids(IDS, "description"))
def test_arvo_managed_ids_parse_to_their_content(entry: dict[str, Any]) -> None:
    content = parse_arvo_event_id(entry["id"])
    assert content is not None
    assert (content.uuid, content.value) == (entry["uuid"], entry["value"])
    assert msgspec.json.encode(content).decode() == entry["compressed_json"]


@pytest.mark.parametrize(
    "entry",
    [e for e in IDS if e["uuid_injected"]],
    ids=ids([e for e in IDS if e["uuid_injected"]], "description"),
)
def test_arvo_managed_ids_are_reproduced_byte_for_byte(entry: dict[str, Any]) -> None:
    spec = {"deduplication": "ARVO_MANAGED", "value": entry["input_value"]}
    assert create_arvo_event_id(spec, uuid_value=entry["uuid"]) == entry["id"]


# ---- subjects.json ----


def make_subject(entry: dict[str, Any]) -> str:
    params = entry["params"]
    method = entry["method"]
    if method == "create":
        return ArvoOrchestrationSubject.create(params["content"])
    common = {
        "orchestrator": params["orchestator"],  # sic: the fixture's key
        "version": params["version"],
        "domain": params.get("domain"),
        "meta": params.get("meta"),
        "execution_id": params["injected_uuid"],
    }
    if method == "new":
        return ArvoOrchestrationSubject.new(initiator=params["initiator"], **common)
    assert method == "from"
    return ArvoOrchestrationSubject.from_(subject=params["subject"], **common)


@pytest.mark.parametrize(
    "entry", [e for e in SUBJECTS if e["method"] != "observed"], ids=lambda e: e["name"]
)
def test_subjects_are_reproduced_byte_for_byte(entry: dict[str, Any]) -> None:
    assert make_subject(entry) == entry["subject"]


@pytest.mark.parametrize("entry", SUBJECTS, ids=lambda e: e["name"])
def test_subjects_parse_to_their_content(entry: dict[str, Any]) -> None:
    content = ArvoOrchestrationSubject.parse(entry["subject"])
    assert msgspec.to_builtins(content) == entry["content"]
    assert msgspec.json.encode(entry["content"]).decode() == entry["content_json"]
    assert ArvoOrchestrationSubject.is_valid(entry["subject"])


# ---- events.json ----


@pytest.mark.parametrize("entry", EVENTS, ids=lambda e: e["name"])
def test_every_event_loads_and_serializes_back_identically(entry: dict[str, Any]) -> None:
    event = ArvoEvent.from_json(entry["json"])
    assert event.to_json() == entry["json"]
    assert event.to_dict() == entry["event"]
    assert ArvoEvent.from_dict(entry["event"]).to_json() == entry["json"]


def test_events_fixture_is_complete() -> None:
    assert len(EVENTS) == 47


@pytest.mark.parametrize("entry", [e for e in EVENTS if "id_content" in e], ids=lambda e: e["name"])
def test_arvo_managed_event_ids_decode(entry: dict[str, Any]) -> None:
    content = parse_arvo_event_id(ArvoEvent.from_json(entry["json"]).id)
    assert content is not None
    assert msgspec.to_builtins(content) == entry["id_content"]


@pytest.mark.parametrize(
    "entry", [e for e in EVENTS if "subject_content" in e], ids=lambda e: e["name"]
)
def test_event_subjects_decode(entry: dict[str, Any]) -> None:
    event = ArvoEvent.from_json(entry["json"])
    assert (
        msgspec.to_builtins(ArvoOrchestrationSubject.parse(event.subject))
        == (entry["subject_content"])
    )
    parent = event.data[PARENT_SUBJECT_FIELD]
    assert (
        msgspec.to_builtins(ArvoOrchestrationSubject.parse(parent))
        == (entry["parent_subject_content"])
    )


CREATED = [e for e in EVENTS if e.get("input", {}).get("function") == "createArvoEvent"]


@pytest.mark.parametrize("entry", CREATED, ids=lambda e: e["name"])
def test_create_arvo_event_reproduces_the_typescript_event(entry: dict[str, Any]) -> None:
    params = entry["input"]["params"]
    event = create_arvo_event(**params, extensions=entry["input"].get("extensions"))
    assert event.to_json() == entry["json"]


FACTORY_MADE = [e for e in EVENTS if "factory" in e.get("input", {})]


def same_factory_event(entry: dict[str, Any]) -> tuple[ArvoEventFactory, dict[str, Any]]:
    factory = FACTORIES[entry["input"]["factory"].split(" ")[0]]
    return factory, dict(entry["input"]["params"])


@pytest.mark.parametrize("entry", FACTORY_MADE, ids=lambda e: e["name"])
def test_factories_reproduce_the_typescript_event(entry: dict[str, Any]) -> None:
    factory, params = same_factory_event(entry)
    wire = entry["event"]
    made = getattr(factory, entry["input"]["method"])(
        **params, subject=wire["subject"], id=wire["id"], time=wire["time"]
    )
    assert made.to_json() == entry["json"]


@pytest.mark.parametrize("entry", FACTORY_MADE, ids=lambda e: e["name"])
def test_factory_subjects_have_the_typescript_content(entry: dict[str, Any]) -> None:
    factory, params = same_factory_event(entry)
    made = getattr(factory, entry["input"]["method"])(**params)
    ours = msgspec.to_builtins(ArvoOrchestrationSubject.parse(made.subject))
    theirs = msgspec.to_builtins(ArvoOrchestrationSubject.parse(entry["event"]["subject"]))
    del ours["execution"]["id"], theirs["execution"]["id"]
    assert ours == theirs


def test_orchestrator_complete_reproduces_the_typescript_event() -> None:
    wire = EVENTS_BY_NAME["average.complete.orchestrator_factory"]["event"]
    factory = FACTORIES["workflow.average@1.0.0"]
    assert isinstance(factory, ArvoOrchestratorEventFactory)
    made = factory.complete(
        source=wire["source"],
        subject=wire["subject"],
        to=wire["to"],
        parentid=wire["parentid"],
        data={"success": True, "average": 5, "errors": None},
        id=wire["id"],
        time=wire["time"],
    )
    assert made.to_dict() == wire


def test_child_init_differs_from_typescript_only_in_the_completion_target() -> None:
    entry = EVENTS_BY_NAME["average.init.with_parent_subject"]
    wire = entry["event"]
    factory = FACTORIES["workflow.average@1.0.0"]
    assert isinstance(factory, ArvoOrchestratorEventFactory)
    made = factory.init(source=wire["source"], data=wire["data"], id=wire["id"], time=wire["time"])
    ours = msgspec.to_builtins(ArvoOrchestrationSubject.parse(made.subject))
    theirs = dict(entry["subject_content"])
    assert ours["orchestrator"] == theirs["orchestrator"]
    assert ours["execution"]["initiator"] == theirs["execution"]["initiator"]
    # docs/arvo-model.md §8.4: TS sends the child's completion to the parent's initiator
    # ("test.test.test"); we send it to the parent orchestrator, as machine-made child calls do.
    assert theirs["meta"] == {"redirectto": "test.test.test"}
    assert ours["meta"] == {"redirectto": entry["parent_subject_content"]["orchestrator"]["name"]}
    same_subject = factory.init(
        source=wire["source"],
        data=wire["data"],
        id=wire["id"],
        time=wire["time"],
        subject=wire["subject"],
    )
    assert same_subject.to_json() == entry["json"]


def test_factory_system_error_matches_typescript_except_the_stack() -> None:
    wire = EVENTS_BY_NAME["add.factory_system_error"]["event"]
    made = FACTORIES["add@1.0.0"].system_error(
        source=wire["source"],
        subject=wire["subject"],
        to=wire["to"],
        parentid=wire["parentid"],
        error=TypeError("Factory-made failure"),
        id=wire["id"],
        time=wire["time"],
    )
    ours, theirs = made.to_dict(), dict(wire)
    assert ours["data"].pop("errorStack").endswith("TypeError: Factory-made failure")
    theirs["data"] = {k: v for k, v in wire["data"].items() if k != "errorStack"}
    assert ours == theirs


# ---- contracts.json ----


def contract_for(entry: dict[str, Any]) -> ArvoContract:
    return ALL_CONTRACTS[entry["name"]]


@pytest.mark.parametrize("entry", CONTRACTS, ids=lambda e: e["name"])
def test_contract_facts_match_typescript(entry: dict[str, Any]) -> None:
    contract = contract_for(entry)
    assert (contract.uri, contract.type, contract.domain) == (
        entry["uri"],
        entry["type"],
        entry["domain"],
    )
    assert contract.description == entry["description"]
    assert contract.metadata == entry["metadata"]
    assert contract.metadata.get("contractType", "ArvoContract") == entry["contractType"]
    assert contract.system_error.type == entry["systemError"]["type"]
    assert contract.version_list == entry["versionList"]
    assert contract.version("latest").version == entry["latestVersion"]
    if entry["orchestrator"]:
        assert contract.metadata["initEventType"] == entry["orchestrator"]["initType"]
        assert contract.metadata["completeEventType"] == entry["orchestrator"]["completeType"]
        assert contract.metadata["rootType"] == entry["orchestrator"]["name"]


def schema_shape(schema: type[msgspec.Struct]) -> tuple[set[str], set[str]]:
    fields = msgspec.structs.fields(schema)
    return {f.encode_name for f in fields}, {f.encode_name for f in fields if f.required}


def json_schema_shape(json_schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    return set(json_schema["properties"]), set(json_schema["required"])


VERSIONS = [(entry, version) for entry in CONTRACTS for version in entry["versions"]]


@pytest.mark.parametrize(
    ("entry", "version"), VERSIONS, ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_versioned_contract_facts_match_typescript(entry: dict[str, Any], version: str) -> None:
    expected = entry["versions"][version]
    versioned = contract_for(entry).version(version)
    assert versioned.dataschema == expected["dataschema"]
    assert versioned.accepts.type == expected["accepts"]["type"]
    assert schema_shape(versioned.accepts.schema) == json_schema_shape(
        expected["accepts"]["jsonSchema"]
    )
    assert list(versioned.emits) == expected["emitTypes"]
    for emit in expected["emits"]:
        assert emit["dataschema"] == versioned.dataschema
        assert schema_shape(versioned.emits[emit["type"]]) == json_schema_shape(emit["jsonSchema"])
    assert versioned.system_error.type == expected["systemError"]["type"]
    assert versioned.system_error.dataschema == expected["systemError"]["dataschema"]
    assert schema_shape(versioned.system_error.schema) == json_schema_shape(
        expected["systemError"]["jsonSchema"]
    )
    if "init" in expected:
        assert versioned.accepts.type == expected["init"]["type"]
        assert versioned.metadata["completeEventType"] == expected["complete"]["type"]
