"""Any event round-trips through the CloudEvents SDK: generated events, every mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from arvo_concurrent import ArvoEvent, create_arvo_event
from arvo_concurrent.arvo.event import RESERVED_EVENT_KEYS
from arvo_concurrent.interop import (
    from_cloudevent,
    from_http,
    to_cloudevent,
    to_http_binary,
    to_http_structured,
)

_NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
_TYPE = st.builds(lambda a, b, c: f"{a}.{b}.{c}", _NAME, _NAME, _NAME)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_EXTENSION_NAME = _NAME.filter(lambda name: name not in RESERVED_EVENT_KEYS)


@st.composite
def _times(draw: st.DrawFn) -> str:
    # Arvo's own form: UTC with milliseconds, as create_timestamp writes it.
    instant = draw(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
    ).replace(tzinfo=UTC)
    instant -= timedelta(microseconds=instant.microsecond % 1000)
    return instant.replace(tzinfo=None).isoformat(timespec="milliseconds") + "+00:00"


@st.composite
def _events(draw: st.DrawFn) -> ArvoEvent:
    return create_arvo_event(
        type=draw(_TYPE),
        source=draw(_TYPE),
        subject=draw(_TEXT),
        data=draw(st.dictionaries(st.text(max_size=8), _JSON, max_size=4)),
        time=draw(_times()),
        to=draw(st.none() | _TYPE),
        accesscontrol=draw(st.none() | _TEXT),
        executionunits=draw(st.none() | st.floats(allow_nan=False, allow_infinity=False)),
        parentid=draw(st.none() | _NAME),
        domain=draw(st.none() | _NAME),
        traceparent=draw(
            st.none() | st.just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        ),
        extensions=dict[str, str | int | float | bool | None](
            draw(st.dictionaries(_EXTENSION_NAME, _TEXT, max_size=3))
        ),
    )


@settings(max_examples=150, deadline=None)
@given(_events())
def test_any_event_round_trips_in_memory_and_in_both_http_modes(event: ArvoEvent) -> None:
    assert from_cloudevent(to_cloudevent(event)) == event
    for message in (to_http_structured(event), to_http_binary(event)):
        back = from_http(message.headers, message.body)
        assert back == event
        assert back.to_json() == event.to_json()
