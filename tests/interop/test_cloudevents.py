"""CloudEvents SDK interop: every TypeScript fixture event round-trips, checked by the SDK."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import (
    HTTPMessage,
    from_binary_event,
    from_structured_event,
    to_binary_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent

from arvo_concurrent import ArvoEvent, ArvoEventValidationError, MissingExtraError
from arvo_concurrent.interop import (
    from_cloudevent,
    from_http,
    to_cloudevent,
    to_http_binary,
    to_http_structured,
)
from tests.fixtures import load_arvo_ts

ENTRIES = load_arvo_ts("events.json")
NAMES = [entry["name"] for entry in ENTRIES]
CUSTOM = "all_extensions.custom_extensions"  # the one fixture with custom extensions


def _fixture(name: str) -> ArvoEvent:
    [entry] = [entry for entry in ENTRIES if entry["name"] == name]
    return ArvoEvent.from_json(entry["json"])


def _carried(event: ArvoEvent) -> ArvoEvent:
    """``event`` as CloudEvents can carry it: a null custom extension cannot be."""
    kept = {key: value for key, value in event.extensions.items() if value is not None}
    return ArvoEvent(**{**_fields(event), "extensions": kept})


def _fields(event: ArvoEvent) -> dict[str, Any]:
    return {field: getattr(event, field) for field in event.__struct_fields__}


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_round_trips_through_a_cloudevent(name: str) -> None:
    event = _fixture(name)
    back = from_cloudevent(to_cloudevent(event))
    assert back == _carried(event)
    if name != CUSTOM:
        assert back.to_json() == event.to_json()  # byte for byte, as TypeScript wrote it


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_round_trips_through_structured_http_read_by_the_sdk(name: str) -> None:
    event = _fixture(name)
    message = to_http_structured(event)
    assert message.headers == {"content-type": "application/cloudevents+json"}

    parsed = from_structured_event(message)  # the SDK's own parser
    assert parsed.get_id() == event.id
    assert parsed.get_type() == event.type
    assert parsed.get_subject() == event.subject
    assert parsed.get_source() == event.source
    assert parsed.get_data() == event.data
    assert parsed.get_extension("to") == event.to
    assert parsed.get_time() == datetime.fromisoformat(event.time)
    assert from_cloudevent(parsed) == _carried(event)
    assert from_http(message.headers, message.body) == _carried(event)


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_round_trips_through_binary_http_read_by_the_sdk(name: str) -> None:
    event = _fixture(name)
    message = to_http_binary(event)
    assert message.headers["ce-id"] == event.id
    assert message.headers["content-type"] == event.datacontenttype
    assert json.loads(message.body) == event.data

    parsed = from_binary_event(message)  # the SDK's own parser
    assert parsed.get_subject() == event.subject
    assert parsed.get_data() == event.data
    back = from_http(message.headers, message.body)
    if name == CUSTOM:  # headers are text: custom extensions come back as strings
        assert back.extensions == {"myext": "custom-value", "zcount": "7", "aflag": "True"}
        assert back == ArvoEvent(**{**_fields(event), "extensions": back.extensions})
    else:
        assert back == event
        assert back.to_json() == event.to_json()


def test_events_made_by_the_sdk_are_read() -> None:
    sdk_event = CloudEvent(
        {
            "type": "com.example.order.created",
            "source": "https://example.com/orders",
            "subject": "order-17",
            "time": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
            "to": "com.example.billing",
            "executionunits": 2,
            "priority": "high",
        },
        {"amount": 12.5},
    )
    for message in (to_structured_event(sdk_event), to_binary_event(sdk_event)):
        event = from_http(message.headers, message.body)
        assert event.id == sdk_event.get_id()
        assert event.type == "com.example.order.created"
        assert event.time == "2026-01-02T03:04:05.678+00:00"
        assert event.datacontenttype == "application/json"  # CloudEvents' JSON default
        assert event.data == {"amount": 12.5}
        assert event.to == "com.example.billing"
        assert event.executionunits == 2
        assert event.extensions["priority"] == "high"


def test_a_cloudevent_that_is_no_arvo_event_is_refused_naming_the_field() -> None:
    no_subject = CloudEvent({"type": "com.example.ping", "source": "/ping", "to": "x.y"}, {})
    with pytest.raises(ArvoEventValidationError, match="subject"):
        from_cloudevent(no_subject)
    text = CloudEvent(
        {
            "type": "com.example.ping",
            "source": "/p",
            "subject": "s",
            "datacontenttype": "text/plain",
        },
        "hello",
    )
    with pytest.raises(ArvoEventValidationError, match="data"):
        from_cloudevent(text)
    bad_units = HTTPMessage(
        headers={
            "ce-id": "1",
            "ce-specversion": "1.0",
            "ce-type": "com.example.ping",
            "ce-source": "/p",
            "ce-subject": "s",
            "ce-time": "2026-01-02T03:04:05Z",
            "ce-executionunits": "many",
            "content-type": "application/json",
        },
        body=b"{}",
    )
    with pytest.raises(ArvoEventValidationError, match="executionunits"):
        from_http(bad_units.headers, bad_units.body)
    with pytest.raises(ArvoEventValidationError, match=r"not a CloudEvent|JSON"):
        from_http({"content-type": "application/cloudevents+json"}, b"{not json")


def test_other_offsets_keep_their_text() -> None:
    event = _fixture(NAMES[0])
    for time in ("2026-01-02T05:06:07+05:30", "2026-01-02T05:06:07.123456-02:00"):
        shifted = ArvoEvent(**{**_fields(event), "time": time})
        assert from_cloudevent(to_cloudevent(shifted)).time == time
        message = to_http_structured(shifted)
        assert from_http(message.headers, message.body).time == time


def test_the_interop_without_the_sdk_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("cloudevents", "cloudevents.core", "cloudevents.core.v1.event"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r"pip install 'arvo-concurrent\[cloudevents\]'"):
        to_cloudevent(_fixture(NAMES[0]))
