"""ArvoEvent (docs/arvo-model.md §1): validation, create_arvo_event defaults, the wire form."""

from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arvo_concurrent.arvo import (
    ARVO_DATA_CONTENT_TYPE,
    RESERVED_EVENT_KEYS,
    ArvoEvent,
    ArvoEventValidationError,
    create_arvo_event,
    create_timestamp,
)

TIME = "2025-01-02T03:04:05.678+00:00"
WIRE_ORDER = [
    "id",
    "source",
    "specversion",
    "type",
    "subject",
    "datacontenttype",
    "dataschema",
    "data",
    "time",
    "to",
    "accesscontrol",
    "redirectto",
    "executionunits",
    "traceparent",
    "tracestate",
    "parentid",
    "domain",
]


def valid_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "evt-1",
        "source": "com.example.producer",
        "type": "com.example.thing",
        "subject": "subject-1",
        "data": {"a": 1},
        "time": TIME,
        "to": "com.example.consumer",
    }
    fields.update(overrides)
    return fields


def make(**overrides: Any) -> ArvoEvent:
    return ArvoEvent(**valid_fields(**overrides))


# ---- validation: each bad value gets an error naming the field and the value ----

BAD_VALUES = [
    ("id", ""),
    ("id", None),
    ("source", ""),
    ("source", "a b"),
    ("source", "100%"),
    ("specversion", "0.3"),
    ("type", "com.example"),
    ("type", "com.Example.thing"),
    ("type", "com.ex-ample.thing"),
    ("type", "com.ex_ample.thing"),
    ("type", "com..thing"),
    ("subject", ""),
    ("subject", "[x]"),
    ("datacontenttype", ""),
    ("dataschema", ""),
    ("dataschema", "#/org/with space/1.0.0"),
    ("time", "2025-01-01T00:00:00"),
    ("time", "2025-01-01 00:00:00Z"),
    ("time", "2025-01-01T00:00:00z"),
    ("time", "2025-01-01T00:00+05"),
    ("time", "2025-02-29T00:00Z"),
    ("time", "2025-13-01T00:00Z"),
    ("time", "2025-04-31T00:00Z"),
    ("time", "2025-01-01T24:00Z"),
    ("to", ""),
    ("to", "a|b"),
    ("accesscontrol", ""),
    ("redirectto", ""),
    ("redirectto", "a b"),
    ("executionunits", float("nan")),
    ("executionunits", "1"),
    ("executionunits", True),
    ("traceparent", ""),
    ("tracestate", ""),
    ("parentid", ""),
    ("domain", "Human.Interaction"),
    ("domain", "human-interaction"),
    ("domain", ""),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_a_bad_field_is_rejected_with_an_error_naming_field_and_value(
    field: str, value: object
) -> None:
    with pytest.raises(ArvoEventValidationError) as caught:
        make(**{field: value})
    error = caught.value
    assert error.field == field
    assert error.value is value or (isinstance(error.value, float) and math.isnan(error.value))
    assert f"'{field}'" in str(error)
    assert repr(value) in str(error)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "time",
    [
        "2025-01-01T00:00Z",
        "2025-01-01T00:00:00+0530",
        "2025-01-01T00:00:00.123456789+05:30",
        "2024-02-29T23:59:59.999Z",
        "2000-02-29T00:00Z",
        "2025-03-04T05:06:07-08:00",
    ],
)
def test_rfc3339_times_with_an_offset_are_accepted(time: str) -> None:
    assert make(time=time).time == time


@pytest.mark.parametrize("time", ["1900-02-29T00:00Z", "2100-02-29T00:00Z"])
def test_century_years_are_leap_years_only_when_divisible_by_400(time: str) -> None:
    with pytest.raises(ArvoEventValidationError, match="'time'"):
        make(time=time)


def test_to_is_required_for_the_arvo_content_type() -> None:
    with pytest.raises(ArvoEventValidationError, match="non-empty 'to' field") as caught:
        make(to=None)
    assert caught.value.field == "to"


def test_to_may_be_null_for_another_content_type() -> None:
    event = make(to=None, datacontenttype="application/json")
    assert event.to is None
    assert event.to_dict()["to"] is None


def test_an_unknown_content_type_is_accepted_with_a_logged_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="arvo_concurrent.arvo.event"):
        event = make(datacontenttype="text/plain")
    assert event.datacontenttype == "text/plain"
    assert "text/plain" in caplog.text


def test_a_json_content_type_is_accepted_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="arvo_concurrent.arvo.event"):
        make(datacontenttype="application/json; charset=utf-8")
    assert caplog.records == []


def test_infinite_execution_units_are_accepted_and_written_as_null_like_javascript() -> None:
    event = make(executionunits=math.inf)
    assert event.executionunits == math.inf
    assert '"executionunits":null' in event.to_json()


class Point(msgspec.Struct):
    x: int


@pytest.mark.parametrize(
    "data",
    [
        [1, 2],
        "text",
        None,
        {"a": (1, 2)},
        {"a": math.nan},
        {"a": [math.inf]},
        {1: "int key"},
        {"when": datetime(2025, 1, 1, tzinfo=UTC)},
        {"point": Point(x=1)},
        {"s": {1, 2}},
        {"o": object()},
    ],
)
def test_data_must_be_a_json_object_that_survives_a_round_trip(data: object) -> None:
    with pytest.raises(ArvoEventValidationError) as caught:
        make(data=data)
    assert caught.value.field == "data"
    assert caught.value.value is data


def test_nested_json_data_is_accepted() -> None:
    data = {"text": "héllo", "n": 1.5, "nested": {"list": [1, "two", None, True]}, "empty": {}}
    assert make(data=data).data == data


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("source", "hijack", "reserved"),
        ("data", "x", "reserved"),
        ("to", "x", "reserved"),
        ("Upper", "x", "must match"),
        ("with_underscore", "x", "must match"),
        ("", "x", "must match"),
        ("ok", [1], "string, number, boolean or null"),
        ("ok", {"a": 1}, "string, number, boolean or null"),
        ("ok", math.nan, "finite"),
    ],
)
def test_bad_custom_extensions_are_rejected_naming_them(
    key: str, value: object, reason: str
) -> None:
    with pytest.raises(ArvoEventValidationError, match=reason) as caught:
        make(extensions={key: value})
    assert caught.value.field == f"extensions.{key}"


def test_every_wire_key_is_reserved() -> None:
    assert set(WIRE_ORDER) == RESERVED_EVENT_KEYS


def test_extensions_are_kept_in_insertion_order_between_time_and_to() -> None:
    event = make(extensions={"zcount": 7, "aflag": True, "nullext": None, "myext": "v"})
    assert list(event.to_dict()) == [
        *WIRE_ORDER[:9],
        "zcount",
        "aflag",
        "nullext",
        "myext",
        *WIRE_ORDER[9:],
    ]
    assert (
        '"time":"2025-01-02T03:04:05.678+00:00","zcount":7,"aflag":true,"nullext":null,"myext":"v","to":'
        in event.to_json()
    )


# ---- immutability and copies ----


def test_events_are_immutable() -> None:
    event = make()
    with pytest.raises(AttributeError):
        event.source = "com.other.source"  # type: ignore[misc]


def test_replace_makes_a_validated_copy() -> None:
    event = make()
    copy = msgspec.structs.replace(event, to="com.other.consumer")
    assert copy.to == "com.other.consumer"
    assert event.to == "com.example.consumer"
    with pytest.raises(ArvoEventValidationError, match="'to'"):
        msgspec.structs.replace(event, to="a b")


# ---- create_arvo_event ----


def test_create_fills_the_documented_defaults() -> None:
    before = datetime.now(UTC)
    event = create_arvo_event(
        type="com.example.thing", source="com.example.producer", subject="s", data={}
    )
    after = datetime.now(UTC)
    assert uuid.UUID(event.id).version == 4
    assert event.to == "com.example.thing"
    assert event.specversion == "1.0"
    assert event.datacontenttype == ARVO_DATA_CONTENT_TYPE
    for field in ("dataschema", "accesscontrol", "redirectto", "executionunits", "parentid"):
        assert getattr(event, field) is None
    for field in ("domain", "traceparent", "tracestate"):
        assert getattr(event, field) is None
    assert event.extensions == {}
    created = datetime.fromisoformat(event.time)
    assert before - timedelta(milliseconds=1) <= created <= after


def test_timestamps_are_true_utc_with_milliseconds() -> None:
    stamp = create_timestamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp)
    # A local time labelled +00:00 (arvo-core's bug, docs/arvo-model.md §8.1) would be off by
    # the offset.
    assert abs(datetime.fromisoformat(stamp) - datetime.now(UTC)) < timedelta(seconds=5)


def test_create_encodes_uri_fields_as_arvo_core_does() -> None:
    event = create_arvo_event(
        type="com.example.encoded",
        source="my source.with space",
        subject="my subject x%20y é",
        to="com.example target",
        redirectto="com.example redirect",
        dataschema="#/org/example/with space/1.0.0",
        parentid="parent id%",
        data={},
    )
    assert event.source == "my%20source.with%20space"
    assert event.subject == "my%20subject%20x%2520y%20%C3%A9"  # double encoding kept (C3)
    assert event.to == "com.example%20target"
    assert event.redirectto == "com.example%20redirect"
    assert event.dataschema == "#/org/example/with%20space/1.0.0"
    assert event.parentid == "parent%20id%25"


def test_create_does_not_encode_domain_or_accesscontrol() -> None:
    event = create_arvo_event(
        type="com.example.thing",
        source="a.b.c",
        subject="s",
        data={},
        accesscontrol="role:admin; tenant:acme",
        domain="ext.domain",
    )
    assert event.accesscontrol == "role:admin; tenant:acme"
    assert event.domain == "ext.domain"


def test_create_builds_ids_from_an_id_spec() -> None:
    developer = create_arvo_event(
        type="com.example.thing",
        source="a.b.c",
        subject="s",
        data={},
        id={"deduplication": "DEVELOPER_MANAGED", "value": "  mine  "},
    )
    assert developer.id == "mine"
    plain = create_arvo_event(
        type="com.example.thing", source="a.b.c", subject="s", data={}, id="given"
    )
    assert plain.id == "given"


def test_create_rejects_a_bad_id_spec_naming_the_id_field() -> None:
    spec = {"deduplication": "NOPE", "value": "x"}
    with pytest.raises(ArvoEventValidationError, match="deduplication") as caught:
        create_arvo_event(type="com.example.thing", source="a.b.c", subject="s", data={}, id=spec)
    assert caught.value.field == "id"
    assert caught.value.value is spec


@pytest.mark.parametrize(("field", "value"), [("source", "\ud800"), ("subject", 5)])
def test_create_rejects_unencodable_uri_fields_naming_them(field: str, value: object) -> None:
    fields: dict[str, Any] = {
        "type": "com.example.thing",
        "source": "a.b.c",
        "subject": "s",
        "data": {},
    }
    fields[field] = value
    with pytest.raises(ArvoEventValidationError) as caught:
        create_arvo_event(**fields)
    assert caught.value.field == field


def test_create_accepts_the_wire_dict_of_an_event() -> None:
    event = create_arvo_event(
        type="com.example.thing",
        source="com.example.producer",
        subject="subject-1",
        data={"n": [1.5, 2]},
        to="com.example.consumer",
        accesscontrol="role:x",
        redirectto="com.example.redirect",
        executionunits=0.5,
        parentid="p-1",
        domain="d.one",
        traceparent="00-abc-def-01",
        tracestate="k=v",
        dataschema="#/org/x/1.0.0",
    )
    assert create_arvo_event(**event.to_dict()) == event


def test_create_copies_the_extensions_it_is_given() -> None:
    extensions: dict[str, Any] = {"myext": "v"}
    event = create_arvo_event(
        type="com.example.thing", source="a.b.c", subject="s", data={}, extensions=extensions
    )
    extensions["myext"] = "changed"
    assert event.extensions == {"myext": "v"}


# ---- wire form ----


def test_to_dict_has_every_key_in_wire_order_with_nulls() -> None:
    wire = make(datacontenttype="application/json", to=None).to_dict()
    assert list(wire) == WIRE_ORDER
    assert wire["to"] is None
    assert wire["domain"] is None


def test_to_json_writes_numbers_as_javascript_does() -> None:
    event = make(data={"values": [1.0, 3e-6, 1e21, 1e-7, 100.0, 0.1]}, executionunits=3e-6)
    text = event.to_json()
    assert '"data":{"values":[1,0.000003,1e+21,1e-7,100,0.1]}' in text
    assert '"executionunits":0.000003' in text


def test_to_json_keeps_non_ascii_text_raw() -> None:
    assert '"text":"héllo 😀"' in make(data={"text": "héllo 😀"}).to_json()


def test_from_dict_defaults_missing_arvo_keys_and_collects_unknown_keys_as_extensions() -> None:
    cloudevent = {
        "id": "ce-1",
        "source": "com.example.producer",
        "specversion": "1.0",
        "type": "com.example.thing",
        "subject": "s",
        "datacontenttype": "application/json",
        "data": {"k": "v"},
        "time": TIME,
        "myext": 3,
    }
    event = ArvoEvent.from_dict(cloudevent)
    assert event.to is None
    assert event.dataschema is None
    assert event.extensions == {"myext": 3}


@pytest.mark.parametrize("missing", ["id", "source", "type", "subject", "time", "data"])
def test_from_dict_names_a_missing_required_key(missing: str) -> None:
    wire = make().to_dict()
    del wire[missing]
    with pytest.raises(ArvoEventValidationError, match="is required") as caught:
        ArvoEvent.from_dict(wire)
    assert caught.value.field == missing


def test_from_dict_rejects_an_unknown_key_that_is_no_valid_extension_name() -> None:
    wire = {**make().to_dict(), "Bad-Key": 1}
    with pytest.raises(ArvoEventValidationError) as caught:
        ArvoEvent.from_dict(wire)
    assert caught.value.field == "extensions.Bad-Key"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"string"'])
def test_from_json_rejects_text_that_is_no_json_object(text: str) -> None:
    with pytest.raises(ArvoEventValidationError) as caught:
        ArvoEvent.from_json(text)
    assert caught.value.field == "<event>"


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
extension_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
extension_names = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True).filter(
    lambda k: k not in RESERVED_EVENT_KEYS
)


@given(
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    extensions=st.dictionaries(extension_names, extension_values, max_size=3),
    executionunits=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)
def test_json_round_trip_is_lossless(
    data: dict[str, Any], extensions: dict[str, Any], executionunits: float | None
) -> None:
    event = make(data=data, extensions=extensions, executionunits=executionunits)
    text = event.to_json()
    again = ArvoEvent.from_json(text)
    assert again.to_json() == text
    assert again.to_dict() == msgspec.json.decode(text)
    assert list(again.extensions) == list(extensions)
    # JavaScript writes 1.0 as 1 and 5.7e16 as 57000000000000000, which read back as ints:
    # the same JavaScript numbers, equal once read as floats.
    assert numbers_as_floats(again.data) == numbers_as_floats(data)


def numbers_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: numbers_as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [numbers_as_floats(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
