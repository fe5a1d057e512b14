"""Event factories (docs/arvo-model.md §1.7); byte-for-byte TS comparisons: test_fixtures.py."""

from __future__ import annotations

import pytest

from arvo_concurrent.arvo import (
    ARVO_DATA_CONTENT_TYPE,
    PARENT_SUBJECT_FIELD,
    ArvoContractError,
    ArvoEventValidationError,
    ArvoOrchestrationSubject,
    ArvoOrchestratorEventFactory,
    ArvoSubjectError,
    SchemaValidationError,
    create_arvo_event_factory,
    create_arvo_orchestrator_event_factory,
)
from tests.arvo.contracts import (
    add_contract,
    average_workflow_contract,
    human_approval_contract,
    product_contract,
)

SOURCE = "test.test.test"
add = create_arvo_event_factory(add_contract.version("1.0.0"))
average = create_arvo_orchestrator_event_factory(average_workflow_contract.version("1.0.0"))


def test_accepts_parses_data_and_fills_the_contract_fields() -> None:
    event = add.accepts(source=SOURCE, data={"numbers": [1, 2, 3], "extra": 1})
    assert event.type == "com.calculator.add"
    assert event.data == {"numbers": [1.0, 2.0, 3.0]}
    assert '"data":{"numbers":[1,2,3]}' in event.to_json()
    assert event.dataschema == "#/org/amas/calculator/add/1.0.0"
    assert event.datacontenttype == ARVO_DATA_CONTENT_TYPE
    assert event.to == "com.calculator.add"
    assert event.redirectto is None
    assert event.domain is None


def test_accepts_without_subject_creates_an_orchestration_subject() -> None:
    event = add.accepts(source=SOURCE, data={"numbers": [1]})
    content = ArvoOrchestrationSubject.parse(event.subject)
    assert content.orchestrator.name == "com.calculator.add"
    assert content.orchestrator.version == "1.0.0"
    assert content.execution.initiator == SOURCE
    assert content.execution.domain is None
    assert content.meta == {}


def test_redirectto_and_domain_go_into_the_new_subject() -> None:
    approval = create_arvo_event_factory(human_approval_contract.version("1.0.0"))
    event = approval.accepts(
        source=SOURCE, data={"prompt": "ok?"}, redirectto="com.redirect.target", domain="human.x"
    )
    content = ArvoOrchestrationSubject.parse(event.subject)
    assert content.meta == {"redirectto": "com.redirect.target"}
    assert content.execution.domain == "human.x"
    assert (event.redirectto, event.domain) == ("com.redirect.target", "human.x")


def test_a_given_subject_and_fields_are_used_as_given() -> None:
    event = add.accepts(
        source=SOURCE,
        data={"numbers": [1]},
        subject="my-subject",
        id="fixed-id",
        time="2025-01-01T00:00:00.000+00:00",
        to="com.other.target",
        parentid="parent-1",
        accesscontrol="role:x",
        executionunits=2,
        traceparent="tp",
        tracestate="ts",
        extensions={"myext": 1},
    )
    assert (event.subject, event.id, event.time, event.to) == (
        "my-subject",
        "fixed-id",
        "2025-01-01T00:00:00.000+00:00",
        "com.other.target",
    )
    assert (event.parentid, event.accesscontrol, event.executionunits) == ("parent-1", "role:x", 2)
    assert (event.traceparent, event.tracestate, event.extensions) == ("tp", "ts", {"myext": 1})


def test_accepts_rejects_bad_data_with_the_arvo_message() -> None:
    with pytest.raises(SchemaValidationError) as caught:
        add.accepts(source=SOURCE, data={"numbers": ["x"]})
    assert str(caught.value).startswith("Accept Event data validation failed: ")
    assert caught.value.path == "$.numbers[0]"


def test_a_source_that_is_not_reverse_dns_cannot_start_a_subject() -> None:
    with pytest.raises(ArvoSubjectError, match="reverse-DNS") as caught:
        add.accepts(source="client", data={"numbers": [1]})
    assert str(caught.value).startswith("Invalid source 'client': ")
    assert caught.value.value == "client"
    assert add.accepts(source="client", data={"numbers": [1]}, subject="s").source == "client"


def test_a_bad_domain_is_not_blamed_on_a_good_source() -> None:
    with pytest.raises(ArvoSubjectError, match="domain") as caught:
        add.accepts(source=SOURCE, data={"numbers": [1]}, domain="Bad Domain")
    assert "Invalid source" not in str(caught.value)


def test_emits_validates_against_the_emit_schema() -> None:
    event = add.emits(
        type="evt.calculator.add.success", source="com.calculator.add", data={"result": 6}
    )
    assert event.data == {"result": 6.0}
    assert event.dataschema == "#/org/amas/calculator/add/1.0.0"
    assert ArvoOrchestrationSubject.parse(event.subject).orchestrator.name == (
        "evt.calculator.add.success"
    )
    with pytest.raises(SchemaValidationError) as caught:
        add.emits(type="evt.calculator.add.success", source="com.calculator.add", data={})
    assert str(caught.value).startswith("Emit Event data validation failed: ")


def test_emits_refuses_a_type_the_contract_does_not_emit() -> None:
    with pytest.raises(ArvoContractError, match=r"No contract available for evt\.other\.type\.x"):
        add.emits(type="evt.other.type.x", source="com.calculator.add", data={})


def test_system_error_describes_the_error() -> None:
    try:
        raise TypeError("Factory-made failure")
    except TypeError as error:
        event = add.system_error(source="com.calculator.add", error=error, to=SOURCE)
    assert event.type == "sys.com.calculator.add.error"
    assert event.dataschema == "#/org/amas/calculator/add/0.0.0"
    assert event.to == SOURCE
    assert event.data["errorName"] == "TypeError"
    assert event.data["errorMessage"] == "Factory-made failure"
    assert "Traceback" in event.data["errorStack"]
    assert event.data["errorStack"].endswith("TypeError: Factory-made failure")


def test_create_arvo_event_factory_picks_the_orchestrator_factory() -> None:
    made = create_arvo_event_factory(average_workflow_contract.version("1.0.0"))
    assert isinstance(made, ArvoOrchestratorEventFactory)
    assert not isinstance(
        create_arvo_event_factory(product_contract.version("1.0.0")),
        ArvoOrchestratorEventFactory,
    )


def test_the_orchestrator_factory_refuses_other_contracts() -> None:
    with pytest.raises(ArvoContractError, match="not an orchestrator contract"):
        create_arvo_orchestrator_event_factory(add_contract.version("1.0.0"))


def test_init_of_a_root_workflow() -> None:
    event = average.init(source=SOURCE, data={PARENT_SUBJECT_FIELD: None, "numbers": [1, 3]})
    assert event.type == "arvo.orc.workflow.average"
    assert event.data == {PARENT_SUBJECT_FIELD: None, "numbers": [1.0, 3.0]}
    assert event.dataschema == "#/org/amas/calculator/average/1.0.0"
    content = ArvoOrchestrationSubject.parse(event.subject)
    assert content.orchestrator.name == "arvo.orc.workflow.average"
    assert content.execution.initiator == SOURCE


def test_init_requires_parent_subject() -> None:
    with pytest.raises(SchemaValidationError, match=r"Accept Event data validation failed: .*"):
        average.init(source=SOURCE, data={"numbers": [1, 3]})


def test_init_of_a_child_completes_into_the_parent_orchestrator() -> None:
    parent = ArvoOrchestrationSubject.new(
        orchestrator="arvo.orc.weighted.average", version="1.0.0", initiator=SOURCE, domain="d.x"
    )
    event = average.init(
        source="arvo.orc.weighted.average",
        data={PARENT_SUBJECT_FIELD: parent, "numbers": [1, 3]},
    )
    child = ArvoOrchestrationSubject.parse(event.subject)
    assert child.orchestrator.name == "arvo.orc.workflow.average"
    assert child.execution.initiator == "arvo.orc.weighted.average"
    assert child.execution.domain == "d.x"
    # Machine-consistent (docs/arvo-model.md §8.4): the parent orchestrator, not its initiator.
    assert child.meta == {"redirectto": "arvo.orc.weighted.average"}


def test_init_of_a_child_honours_the_callers_redirectto() -> None:
    parent = ArvoOrchestrationSubject.new(
        orchestrator="arvo.orc.weighted.average", version="1.0.0", initiator=SOURCE
    )
    event = average.init(
        source="arvo.orc.weighted.average",
        data={PARENT_SUBJECT_FIELD: parent, "numbers": [1, 3]},
        redirectto="com.somewhere.else",
    )
    assert ArvoOrchestrationSubject.parse(event.subject).meta == {
        "redirectto": "com.somewhere.else"
    }


def test_init_with_an_invalid_parent_subject_fails() -> None:
    with pytest.raises(ArvoSubjectError, match="Error parsing orchestration subject string"):
        average.init(source=SOURCE, data={PARENT_SUBJECT_FIELD: "not-a-subject", "numbers": [1, 3]})


def test_complete_validates_against_the_complete_schema() -> None:
    event = average.complete(
        source="arvo.orc.workflow.average",
        data={"success": True, "average": 5, "errors": None},
        subject="s",
        to=SOURCE,
    )
    assert event.type == "arvo.orc.workflow.average.done"
    assert event.to_dict()["data"] == {"success": True, "average": 5.0, "errors": None}
    with pytest.raises(SchemaValidationError, match="Emit Event data validation failed: "):
        average.complete(source="arvo.orc.workflow.average", data={"success": True})


def test_an_invalid_event_field_is_reported_by_the_event() -> None:
    with pytest.raises(ArvoEventValidationError) as caught:
        add.accepts(source=SOURCE, data={"numbers": [1]}, domain="Bad Domain", subject="s")
    assert caught.value.field == "domain"
