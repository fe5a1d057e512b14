"""ArvoEventHandler (docs/arvo-model.md §3): replies, system errors, violations, bad config."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    ArvoDomain,
    ArvoEvent,
    ConfigViolation,
    ContractViolation,
    ExecutionViolation,
    VersionedArvoContract,
    create_arvo_contract,
    create_arvo_event_factory,
)
from arvo_concurrent.arvo.event_handler import create_arvo_event_handler
from arvo_concurrent.arvo.handler import HandlerConfigError, IArvoEventHandler
from arvo_concurrent.arvo.injection import HandlerSignatureError
from tests.arvo.contracts import (
    NumberResult,
    NumbersInput,
    add_contract,
    human_approval_contract,
)
from tests.arvo.handlers import (
    TEST_SOURCE,
    add_handler,
    assert_same_as_ts,
    ts_event,
)

add_factory = create_arvo_event_factory(add_contract.version("1.0.0"))


def add_request(numbers: list[float], **options: Any) -> ArvoEvent:
    return add_factory.accepts(source=TEST_SOURCE, data={"numbers": numbers}, **options)


def handler_of(fn: Any, **options: Any) -> IArvoEventHandler:
    return create_arvo_event_handler(contract=add_contract, handler={"1.0.0": fn}, **options)


@pytest.mark.parametrize(
    ("request_name", "reply_name"),
    [
        ("add.accepts", "add.success_reply"),
        ("add.accepts.with_redirectto", "add.success_reply.to_redirectto"),
        ("add.accepts.empty_numbers", "add.system_error_reply"),
        (
            "add.accepts.with_redirectto.empty_numbers",
            "add.system_error_reply.ignores_redirectto",
        ),
    ],
)
def test_replies_match_the_typescript_fixture(request_name: str, reply_name: str) -> None:
    (reply,) = add_handler().execute(ts_event(request_name))
    assert_same_as_ts(reply, reply_name, {})


def test_handler_is_an_iarvoeventhandler_with_its_contract_type_as_source() -> None:
    handler = add_handler()
    assert isinstance(handler, IArvoEventHandler)
    assert handler.source == "com.calculator.add"
    assert handler.system_error_schema.type == "sys.com.calculator.add.error"


def test_system_error_carries_the_python_error_and_handler_units() -> None:
    def fail() -> None:
        raise KeyError("boom")

    request = add_request([1], accesscontrol="role=admin")
    (error,) = handler_of(fail, execution_units=7).execute(request)
    assert error.type == "sys.com.calculator.add.error"
    assert error.data["errorName"] == "KeyError"
    assert error.data["errorMessage"] == "'boom'"
    assert "KeyError" in error.data["errorStack"]
    assert (error.to, error.parentid, error.subject) == (TEST_SOURCE, request.id, request.subject)
    assert (error.executionunits, error.accesscontrol) == (7, "role=admin")
    assert error.dataschema == "#/org/amas/calculator/add/0.0.0"


def test_function_gets_only_the_parameters_it_declares() -> None:
    seen: dict[str, Any] = {}

    def fn(data: NumbersInput, contract: VersionedArvoContract, domain: Any) -> None:
        seen.update(data=data, contract=contract, domain=domain)

    request = add_request([1, 2], domain="some.domain")
    assert handler_of(fn).execute(request) == []
    assert seen["data"] == NumbersInput(numbers=[1.0, 2.0])
    assert seen["contract"] is add_contract.version("1.0.0")
    assert seen["domain"] == {"self": None, "event": "some.domain"}


def test_kwargs_function_gets_everything() -> None:
    seen: dict[str, Any] = {}

    def fn(**kwargs: Any) -> None:
        seen.update(kwargs)

    request = add_request([1])
    handler_of(fn).execute(request)
    assert set(seen) == {"event", "data", "contract", "source", "domain"}
    assert seen["event"] is request
    assert seen["source"] == "com.calculator.add"


def test_keyword_only_parameters_are_supplied_and_positional_only_refused() -> None:
    def keyword_only(*, source: str) -> dict[str, Any]:
        return {"type": "evt.calculator.add.success", "data": {"result": len(source)}}

    (reply,) = handler_of(keyword_only).execute(add_request([1]))
    assert reply.data == {"result": len("com.calculator.add")}

    def positional_only(event: Any, /) -> None: ...

    with pytest.raises(HandlerSignatureError, match="positional-only"):
        handler_of(positional_only)


def test_list_output_with_struct_data_and_routing_overrides() -> None:
    def fn(data: NumbersInput) -> list[dict[str, Any]]:
        return [
            {"type": "evt.calculator.add.success", "data": NumberResult(result=sum(data.numbers))},
            {
                "type": "evt.calculator.add.success",
                "data": {"result": 0, "ignored": True},
                "to": "com.other.place",
                "redirectto": "com.back.here",
                "accesscontrol": "acl",
                "executionunits": 0,
                "id": {"deduplication": "DEVELOPER_MANAGED", "value": "fixed-id"},
                "__extensions": {"tenant": "t1"},
            },
        ]

    request = add_request([1, 2], redirectto="com.redirect.target")
    first, second = handler_of(fn, execution_units=5).execute(request)
    assert (first.data, first.to, first.redirectto, first.executionunits) == (
        {"result": 3.0},
        "com.redirect.target",
        None,
        5,
    )
    assert second.data == {"result": 0.0}
    assert (second.to, second.redirectto, second.accesscontrol) == (
        "com.other.place",
        "com.back.here",
        "acl",
    )
    assert (second.executionunits, second.id, second.extensions) == (
        0,
        "fixed-id",
        {"tenant": "t1"},
    )


def test_one_event_per_distinct_resolved_domain() -> None:
    def fn() -> dict[str, Any]:
        return {
            "type": "evt.human.approval.success",
            "data": {"approval": True},
            "domain": [ArvoDomain.FROM_SELF_CONTRACT, "human.interaction", None, "other"],
        }

    handler = create_arvo_event_handler(contract=human_approval_contract, handler={"1.0.0": fn})
    request = create_arvo_event_factory(human_approval_contract.version("1.0.0")).accepts(
        source=TEST_SOURCE, data={"prompt": "ok?"}
    )
    assert [e.domain for e in handler.execute(request)] == ["human.interaction", None, "other"]


def test_default_domain_follows_the_orchestration_context() -> None:
    # The factory puts the request's domain into the new subject's execution domain.
    request = add_request([1], domain="human.interaction")
    (same_domain,) = add_handler().execute(request)
    assert same_domain.domain is None
    (crossing,) = add_handler().execute(msgspec.structs.replace(request, domain="other"))
    assert crossing.domain == "human.interaction"
    (local,) = add_handler().execute(msgspec.structs.replace(request, domain=None))
    assert local.domain is None


@pytest.mark.parametrize(
    ("change", "violation", "message"),
    [
        ({"type": "com.calculator.other"}, ConfigViolation, "Event type mismatch"),
        ({"dataschema": "#/org/other/1.0.0"}, ContractViolation, "URI mismatch"),
        ({"dataschema": "#/org/amas/calculator/add/2.0.0"}, ConfigViolation, "version '2.0.0'"),
        ({"dataschema": "#/org/amas/calculator/add/0.0.0"}, ConfigViolation, "version '0.0.0'"),
        ({"data": {"numbers": "x"}}, ContractViolation, "$.numbers"),
        ({"data": {}}, ContractViolation, "numbers"),
    ],
)
def test_bad_input_raises_a_violation_naming_it(
    change: dict[str, Any], violation: type[Exception], message: str
) -> None:
    request = msgspec.structs.replace(add_request([1]), **change)
    with pytest.raises(violation, match=message.replace("$", r"\$")) as caught:
        add_handler().execute(request)
    assert caught.value.metadata == {"initiatingEvent": request}  # type: ignore[attr-defined]


def test_missing_dataschema_uses_the_latest_version() -> None:
    request = msgspec.structs.replace(add_request([4]), dataschema=None)
    (reply,) = add_handler().execute(request)
    assert reply.data == {"result": 4.0}
    assert reply.dataschema == "#/org/amas/calculator/add/1.0.0"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"type": "evt.calculator.nope", "data": {}}, "No contract available"),
        ({"type": "evt.calculator.add.success", "data": {"result": "x"}}, "fails its schema"),
        ({"type": "evt.calculator.add.success", "data": [1]}, "'data' must be a dict"),
        ({"type": "evt.calculator.add.success", "data": {"result": 1}, "tpo": "x"}, "'tpo'"),
        ({"data": {"result": 1}}, "needs a 'type'"),
        ({"type": "evt.calculator.add.success", "data": {"result": 1}, "domain": "x"}, "list"),
        (
            {"type": "evt.calculator.add.success", "data": {"result": 1}, "executionunits": "x"},
            "executionunits",
        ),
        (42, "must return a dict"),
        ([{"type": "evt.calculator.add.success", "data": {"result": 1}}, 3], "holding 3"),
    ],
)
def test_bad_output_raises_a_contract_violation(output: Any, message: str) -> None:
    with pytest.raises(ContractViolation, match=message):
        handler_of(lambda: output).execute(add_request([1]))


def test_violation_raised_by_the_function_propagates() -> None:
    def fn() -> None:
        raise ExecutionViolation("not today")

    with pytest.raises(ExecutionViolation, match="not today"):
        handler_of(fn).execute(add_request([1]))


def test_construction_rejects_a_missing_or_unknown_version() -> None:
    two_versions = create_arvo_contract(
        uri="#/test/two",
        type="com.test.two",
        versions={
            "1.0.0": {"accepts": NumbersInput, "emits": {"evt.test.two.done": NumberResult}},
            "2.0.0": {"accepts": NumbersInput, "emits": {"evt.test.two.done": NumberResult}},
        },
    )
    with pytest.raises(HandlerConfigError, match=r"missing \['2.0.0'\]") as caught:
        create_arvo_event_handler(contract=two_versions, handler={"1.0.0": lambda: None})
    assert caught.value.value == ["2.0.0"]
    with pytest.raises(HandlerConfigError, match=r"unknown \['3.0.0'\]"):
        create_arvo_event_handler(
            contract=add_contract, handler={"1.0.0": lambda: None, "3.0.0": lambda: None}
        )


def test_construction_rejects_parameters_it_cannot_supply() -> None:
    def typo(evnt: Any) -> None: ...

    def positional(*args: Any) -> None: ...

    with pytest.raises(HandlerSignatureError, match="unknown parameter 'evnt'") as caught:
        handler_of(typo)
    assert caught.value.parameter == "evnt"
    with pytest.raises(HandlerSignatureError, match="'args'"):
        handler_of(positional)
    with pytest.raises(HandlerConfigError, match="must be callable"):
        handler_of("not a function")


def test_construction_rejects_bad_domains_and_contracts() -> None:
    with pytest.raises(HandlerConfigError, match="unknown key 'emit'"):
        handler_of(lambda: None, default_event_emission_domains={"emit": [None]})
    with pytest.raises(HandlerConfigError, match="must be an ArvoContract"):
        create_arvo_event_handler(contract=add_contract.version("1.0.0"), handler={})  # type: ignore[arg-type]
