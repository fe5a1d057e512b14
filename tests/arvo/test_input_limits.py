"""Bad input stays inside the error tree: oversized subjects, deep data, lone surrogates,
trailing newlines. Whatever an event accepts, ``to_json`` can write."""

from __future__ import annotations

import base64
import json
import tracemalloc
import zlib
from typing import Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    MAX_DATA_DEPTH,
    MAX_SUBJECT_CONTENT_BYTES,
    ArvoEvent,
    ArvoEventIdError,
    ArvoEventValidationError,
    ArvoOrchestrationSubject,
    ArvoSubjectError,
    create_arvo_event,
    create_arvo_event_id,
    parse_arvo_event_id,
)
from arvo_concurrent.arvo.inflate import InflateError, inflate
from tests.arvo.test_event import valid_fields

LONE = "a\ud800b"


def subject_json(padding: int) -> bytes:
    """Valid subject content JSON whose length grows one byte per unit of ``padding``."""
    return msgspec.json.encode(
        {
            "orchestrator": {"name": "arvo.orc.test", "version": "1.0.0"},
            "execution": {"id": "x", "initiator": "com.test.client", "domain": None},
            "meta": {"pad": "p" * padding},
        }
    )


def subject_of(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def nested_dict(depth: int) -> dict[str, Any]:
    """A dict ``depth`` containers deep, counting itself."""
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        data = {"a": data}
    return data


def nested_list(depth: int) -> dict[str, Any]:
    """A dict holding lists, ``depth`` containers deep in all."""
    inner: Any = [1]
    for _ in range(depth - 2):
        inner = [inner]
    return {"a": inner}


# --- subjects --------------------------------------------------------------------------------


def test_a_subject_that_inflates_past_the_cap_is_a_subject_error() -> None:
    raw = subject_json(10 * MAX_SUBJECT_CONTENT_BYTES)
    subject = subject_of(raw)
    assert len(subject) < MAX_SUBJECT_CONTENT_BYTES // 10  # small on the wire
    with pytest.raises(ArvoSubjectError, match=f"more than {MAX_SUBJECT_CONTENT_BYTES} bytes"):
        ArvoOrchestrationSubject.parse(subject)
    assert not ArvoOrchestrationSubject.is_valid(subject)


def test_subject_content_of_exactly_the_cap_parses_and_one_byte_more_does_not() -> None:
    base = len(subject_json(0))
    at_cap = subject_json(MAX_SUBJECT_CONTENT_BYTES - base)
    assert len(at_cap) == MAX_SUBJECT_CONTENT_BYTES
    parsed = ArvoOrchestrationSubject.parse(subject_of(at_cap))
    assert len(parsed.meta["pad"]) == MAX_SUBJECT_CONTENT_BYTES - base
    past_cap = subject_of(subject_json(MAX_SUBJECT_CONTENT_BYTES - base + 1))
    with pytest.raises(ArvoSubjectError):
        ArvoOrchestrationSubject.parse(past_cap)


def test_create_refuses_content_it_could_not_parse_back() -> None:
    padding = MAX_SUBJECT_CONTENT_BYTES - len(subject_json(0)) + 1
    with pytest.raises(ArvoSubjectError, match="MAX_SUBJECT_CONTENT_BYTES"):
        ArvoOrchestrationSubject.new(
            orchestrator="arvo.orc.test",
            version="1.0.0",
            initiator="com.test.client",
            meta={"pad": "p" * padding},
        )


def test_inflating_a_bomb_stops_at_the_cap_without_allocating_the_whole() -> None:
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64)) + compressor.flush()
    assert len(bomb) < 1 << 17  # 64 MiB of zeros in under 128 KiB
    tracemalloc.start()
    try:
        with pytest.raises(InflateError, match="more than 65536 bytes") as caught:
            inflate(bomb, 64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.max_size == 64 * 1024
    assert peak < 1 << 20  # the 64 MiB were never produced


def test_inflate_returns_a_complete_stream_and_rejects_a_truncated_or_corrupt_one() -> None:
    packed = zlib.compress(b"hello" * 10)
    assert inflate(packed, 50) == b"hello" * 10
    assert inflate(packed + b"trailing", 50) == b"hello" * 10
    with pytest.raises(InflateError, match="truncated"):
        inflate(packed[:-3], 50)
    with pytest.raises(InflateError, match="corrupt"):
        inflate(b"not zlib at all", 50)


@pytest.mark.parametrize(
    ("field", "content"),
    [
        ("orchestrator.name", {"name": "arvo.orc.test\n", "version": "1.0.0"}),
        ("orchestrator.version", {"name": "arvo.orc.test", "version": "1.0.0\n"}),
    ],
)
def test_subject_patterns_refuse_a_trailing_newline(field: str, content: dict[str, str]) -> None:
    raw = msgspec.json.encode(
        {
            "orchestrator": content,
            "execution": {"id": "x", "initiator": "com.test.client", "domain": "d.e"},
            "meta": {},
        }
    )
    with pytest.raises(ArvoSubjectError):
        ArvoOrchestrationSubject.parse(subject_of(raw))
    with pytest.raises(ArvoSubjectError, match=field.split(".")[1]):
        ArvoOrchestrationSubject.create(json.loads(raw))


@pytest.mark.parametrize(
    "execution",
    [
        {"id": "x", "initiator": "com.test.client\n", "domain": None},
        {"id": "x", "initiator": "com.test.client", "domain": "d.e\n"},
    ],
)
def test_subject_execution_patterns_refuse_a_trailing_newline(execution: dict[str, Any]) -> None:
    with pytest.raises(ArvoSubjectError):
        ArvoOrchestrationSubject.create(
            {
                "orchestrator": {"name": "arvo.orc.test", "version": "1.0.0"},
                "execution": execution,
                "meta": {},
            }
        )


@pytest.mark.parametrize("field", ["source", "subject", "to", "redirectto", "dataschema"])
def test_uri_fields_refuse_a_trailing_newline(field: str) -> None:
    with pytest.raises(ArvoEventValidationError) as caught:
        ArvoEvent(**valid_fields(**{field: "com.example.x\n"}))
    assert caught.value.field == field


# --- data depth ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [nested_dict, nested_list])
def test_data_at_the_depth_limit_is_accepted_and_written(make: Any) -> None:
    event = ArvoEvent(**valid_fields(data=make(MAX_DATA_DEPTH)))
    assert ArvoEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize("make", [nested_dict, nested_list])
@pytest.mark.parametrize("depth", [MAX_DATA_DEPTH + 1, 600, 5000])
def test_data_past_the_depth_limit_is_refused_naming_the_field(make: Any, depth: int) -> None:
    with pytest.raises(ArvoEventValidationError, match="MAX_DATA_DEPTH") as caught:
        ArvoEvent(**valid_fields(data=make(depth)))
    assert caught.value.field == "data"


@pytest.mark.parametrize("depth", [MAX_DATA_DEPTH + 1, 600, 989, 990, 5000])
def test_from_json_refuses_deep_data_without_a_recursion_error(depth: int) -> None:
    wire = create_arvo_event(
        type="com.example.thing", source="com.example.producer", subject="s", data={"a": 1}
    ).to_dict()
    text = json.dumps({**wire, "data": None}).replace(
        '"data": null', '"data": ' + '{"a": ' * depth + "1" + "}" * depth
    )
    with pytest.raises(ArvoEventValidationError, match="MAX_DATA_DEPTH") as caught:
        ArvoEvent.from_json(text)
    assert caught.value.field == "data"


@pytest.mark.parametrize("text", [123, None, ["{}"]])
def test_from_json_of_something_that_is_not_text_is_an_event_error(text: Any) -> None:
    with pytest.raises(ArvoEventValidationError, match="must be JSON text") as caught:
        ArvoEvent.from_json(text)
    assert caught.value.field == "<event>"


# --- lone surrogates -------------------------------------------------------------------------

TEXT_FIELDS = ["id", "accesscontrol", "traceparent", "tracestate", "parentid", "datacontenttype"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_a_lone_surrogate_in_a_text_field_is_refused_naming_it(field: str) -> None:
    with pytest.raises(ArvoEventValidationError, match="lone surrogate") as caught:
        ArvoEvent(**valid_fields(**{field: LONE}))
    assert caught.value.field == field
    with pytest.raises(ArvoEventValidationError):
        ArvoEvent.from_dict(valid_fields(**{field: LONE}))


def test_a_lone_surrogate_in_an_extension_is_refused_naming_it() -> None:
    with pytest.raises(ArvoEventValidationError, match="lone surrogate") as caught:
        ArvoEvent(**valid_fields(extensions={"tenant": LONE}))
    assert caught.value.field == "extensions.tenant"


def test_valid_non_ascii_text_is_still_accepted() -> None:
    event = ArvoEvent(**valid_fields(accesscontrol="équipe 🚀", extensions={"who": "café"}))
    assert ArvoEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    "field",
    [*TEXT_FIELDS, "source", "type", "subject", "to", "redirectto", "dataschema", "domain"],
)
@pytest.mark.parametrize("value", [LONE, "\udfff", "x\ud83d"])
def test_every_text_field_either_refuses_a_value_or_can_write_it(field: str, value: str) -> None:
    try:
        event = ArvoEvent(**valid_fields(**{field: value}))
    except ArvoEventValidationError as exc:
        refused_field = exc.field
    else:
        assert ArvoEvent.from_json(event.to_json()) == event
        return
    assert refused_field == field


# --- ids -------------------------------------------------------------------------------------


def test_an_arvo_managed_id_of_a_lone_surrogate_is_an_id_error() -> None:
    spec = {"deduplication": "ARVO_MANAGED", "value": LONE}
    with pytest.raises(ArvoEventIdError, match="lone surrogate"):
        create_arvo_event_id(spec)
    with pytest.raises(ArvoEventValidationError) as caught:
        create_arvo_event(
            type="com.example.thing", source="com.example.producer", subject="s", data={}, id=spec
        )
    assert caught.value.field == "id"


def test_parsing_an_id_that_inflates_past_the_cap_gives_none() -> None:
    value = "v" * (80 * 1024)
    bomb = base64.b64encode(zlib.compress(msgspec.json.encode({"uuid": "u", "value": value})))
    assert parse_arvo_event_id(bomb.decode()) is None
    small = create_arvo_event_id({"deduplication": "ARVO_MANAGED", "value": "x"}, uuid_value="u")
    parsed = parse_arvo_event_id(small)
    assert parsed is not None
    assert (parsed.uuid, parsed.value) == ("u", "x")
