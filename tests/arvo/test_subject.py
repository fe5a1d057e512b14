"""ArvoOrchestrationSubject (docs/arvo-model.md §4.6); subjects.json: see test_fixtures.py."""

from __future__ import annotations

import base64
import uuid
import zlib

import msgspec
import pytest

from arvo_concurrent.arvo import (
    ArvoOrchestrationSubject,
    ArvoSubjectError,
    ExecutionContent,
    OrchestratorContent,
    SubjectContent,
)

Subject = ArvoOrchestrationSubject
REFERENCE = (
    "eJw9TkEOwkAI/AvnStbEg+lvSItK3F0SSluTTf8uVuscJgxDZmigNjx4ciNXg75BpcLQA9miGB6uas9b1hVpYaM7Qwc"
    "xTKI1rs6YMMHWAb94mH1fNpAxrPTDaafLh66HPBBZUsXl2w0ef+Cfwhy1kERknXOOksJOkb9tb9AwOPc="
)
ZERO_ID = "00000000-0000-4000-8000-000000000000"


def encode_raw(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode())).decode()


def test_reference_vector() -> None:
    subject = Subject.new(
        orchestrator="arvo.orc.workflow.average",
        version="1.0.0",
        initiator="test.test.test",
        execution_id=ZERO_ID,
    )
    assert subject == REFERENCE
    assert Subject.parse(REFERENCE) == SubjectContent(
        orchestrator=OrchestratorContent(name="arvo.orc.workflow.average", version="1.0.0"),
        execution=ExecutionContent(id=ZERO_ID, initiator="test.test.test", domain=None),
        meta={},
    )


def test_new_defaults_a_fresh_uuid_and_version_zero() -> None:
    content = Subject.parse(
        Subject.new(orchestrator="arvo.orc.some.flow", version=None, initiator="a.b.c")
    )
    assert uuid.UUID(content.execution.id).version == 4
    assert content.orchestrator.version == "0.0.0"


def test_from_makes_a_child_of_the_parent_workflow() -> None:
    parent = Subject.new(
        orchestrator="arvo.orc.parent.flow",
        version="1.0.0",
        initiator="a.b.c",
        domain="parent.domain",
        meta={"redirectto": "x.y.z", "keep": "1"},
    )
    child = Subject.parse(
        Subject.from_(
            orchestrator="arvo.orc.child.flow",
            version="2.0.0",
            subject=parent,
            meta={"redirectto": "arvo.orc.parent.flow"},
        )
    )
    assert child.orchestrator == OrchestratorContent(name="arvo.orc.child.flow", version="2.0.0")
    assert child.execution.initiator == "arvo.orc.parent.flow"
    assert child.execution.domain == "parent.domain"
    assert child.meta == {"redirectto": "arvo.orc.parent.flow", "keep": "1"}


def test_from_may_override_the_domain() -> None:
    parent = Subject.new(orchestrator="a.b.c", version="1.0.0", initiator="a.b.c", domain="one")
    child = Subject.from_(orchestrator="d.e.f", version="1.0.0", subject=parent, domain="two")
    assert Subject.parse(child).execution.domain == "two"


def test_from_rejects_a_parent_that_is_no_subject() -> None:
    with pytest.raises(ArvoSubjectError, match="Error parsing orchestration subject string"):
        Subject.from_(orchestrator="d.e.f", version="1.0.0", subject="plain-subject")


@pytest.mark.parametrize(
    ("overrides", "path", "value"),
    [
        ({"initiator": "client"}, "$.execution.initiator", "client"),
        ({"initiator": "a.b;c"}, "$.execution.initiator", "a.b;c"),
        ({"orchestrator": "Arvo.orc.x"}, "$.orchestrator.name", "Arvo.orc.x"),
        ({"orchestrator": "orc.x"}, "$.orchestrator.name", "orc.x"),
        ({"version": "1.0"}, "$.orchestrator.version", "1.0"),
        ({"execution_id": "a;b"}, "$.execution.id", "a;b"),
        ({"domain": "Bad Domain"}, "$.execution.domain", "Bad Domain"),
        ({"meta": {"k": 1}}, "$.meta[...]", None),
    ],
)
def test_new_rejects_bad_content_naming_the_field(
    overrides: dict[str, object], path: str, value: object
) -> None:
    fields: dict[str, object] = {"orchestrator": "a.b.c", "version": "1.0.0", "initiator": "d.e.f"}
    fields.update(overrides)
    with pytest.raises(ArvoSubjectError) as caught:
        Subject.new(**fields)  # type: ignore[arg-type]
    assert f"at {path} (value={value!r})" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_non_reverse_dns_initiator_gets_the_arvo_hint() -> None:
    with pytest.raises(ArvoSubjectError, match="initiator should be prefixed with a reverse-DNS"):
        Subject.new(orchestrator="a.b.c", version="1.0.0", initiator="client")


NOT_SUBJECTS = [
    "",
    "plain-subject",
    "not base64!",
    base64.b64encode(b"not zlib").decode(),
    encode_raw("not json"),
    encode_raw("[1,2]"),
    # A subject from before domains existed: execution.domain missing.
    encode_raw(
        '{"orchestrator":{"name":"a.b.c","version":"1.0.0"},'
        '"execution":{"id":"x","initiator":"d.e.f"},"meta":{}}'
    ),
    encode_raw(
        '{"orchestrator":{"name":"a.b.c","version":"1.0.0"},'
        '"execution":{"id":"","initiator":"d.e.f","domain":null},"meta":{}}'
    ),
]


@pytest.mark.parametrize("subject", NOT_SUBJECTS)
def test_parse_rejects_strings_that_are_no_subject(subject: str) -> None:
    with pytest.raises(ArvoSubjectError, match="Error parsing orchestration subject string") as e:
        Subject.parse(subject)
    assert e.value.value == subject
    assert repr(subject) in str(e.value)
    assert Subject.is_valid(subject) is False


def test_is_valid_accepts_a_subject() -> None:
    assert Subject.is_valid(REFERENCE) is True


def test_create_of_a_struct_uses_the_canonical_key_order() -> None:
    content = Subject.parse(REFERENCE)
    assert Subject.create(content) == REFERENCE


def test_create_of_a_mapping_keeps_its_key_order() -> None:
    content = msgspec.to_builtins(Subject.parse(REFERENCE))
    reordered = {
        "meta": content["meta"],
        "execution": content["execution"],
        "orchestrator": content["orchestrator"],
    }
    subject = Subject.create(reordered)
    assert subject != REFERENCE
    assert Subject.parse(subject) == Subject.parse(REFERENCE)


def test_create_validates_a_mapping() -> None:
    with pytest.raises(ArvoSubjectError, match=r"at \$\.execution\.id \(value=None\)"):
        Subject.create({"execution": {}, "meta": {}})


def test_meta_text_survives_the_round_trip() -> None:
    meta = {"tenant": "café 日本 😀", "note": 'has "quotes" and \\', "lines": "a\nb\tc\x01"}
    subject = Subject.new(orchestrator="a.b.c", version="1.0.0", initiator="d.e.f", meta=meta)
    assert Subject.parse(subject).meta == meta
