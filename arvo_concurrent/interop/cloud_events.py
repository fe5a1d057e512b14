"""``ArvoEvent`` <-> the CloudEvents SDK's ``CloudEvent``, and the SDK's HTTP binding.

Field mapping: the CloudEvents core attributes map one to one (``time`` becomes a
timezone-aware ``datetime``); Arvo's ``to``, ``accesscontrol``, ``redirectto``,
``executionunits``, ``traceparent``, ``tracestate``, ``parentid`` and ``domain``, and
every custom extension, become CloudEvents extension attributes; ``data`` stays a dict.
CloudEvents attributes cannot be null, so a field that is None is left out, and comes
back as None.

What round-trips: ``from_cloudevent(to_cloudevent(e)) == e`` for any event whose custom
extensions are not null, and so does an event through :func:`to_http_structured` (JSON
keeps every type). ``time`` keeps its instant, and its text when written as Arvo writes
it (UTC with milliseconds, ``...SS.mmm+00:00``) or as an ISO 8601 time with another
offset. In binary mode every attribute travels as an HTTP header, i.e. as text (the
CloudEvents HTTP binding): ``executionunits`` is read back as a number, but custom
extensions come back as strings.

Thread-safe: pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from arvo_concurrent.arvo.event import ArvoEvent, ArvoEventValidationError
from arvo_concurrent.extras import require_extra

if TYPE_CHECKING:
    from cloudevents.core.base import BaseCloudEvent
    from cloudevents.core.bindings.http import HTTPMessage
    from cloudevents.core.v1.event import CloudEvent

__all__ = ["from_cloudevent", "from_http", "to_cloudevent", "to_http_binary", "to_http_structured"]

_JSON_TYPES = ("json",)  # a data content type naming JSON: the body is JSON text
_NO_OFFSET = timedelta(0)


def _require(feature: str) -> None:
    require_extra(
        "cloudevents.core.v1.event", extra="cloudevents", package="cloudevents", feature=feature
    )


def to_cloudevent(event: ArvoEvent) -> CloudEvent:
    """The SDK's v1.0 ``CloudEvent`` for ``event`` (see the module docstring).

    Raises:
        MissingExtraError: the ``cloudevents`` SDK is not installed.
    """
    _require("to_cloudevent")
    from cloudevents.core.v1.event import CloudEvent  # noqa: PLC0415 - the extra is lazy

    attributes: dict[str, Any] = {}
    for key, value in event.to_dict().items():
        if value is not None and key != "data":
            attributes[key] = value
    attributes["time"] = datetime.fromisoformat(event.time)
    return CloudEvent(attributes, dict(event.data))


def from_cloudevent(cloudevent: BaseCloudEvent) -> ArvoEvent:
    """The ``ArvoEvent`` for a CloudEvents SDK event (any ``BaseCloudEvent``, spec 1.0).

    A missing ``datacontenttype`` means ``application/json`` (as in CloudEvents' JSON
    format); ``data`` given as JSON text or bytes is parsed. Attributes that Arvo does
    not know become custom extensions.

    Raises:
        ArvoEventValidationError: the event is not a valid ArvoEvent (names the field):
            no subject, data that is not a JSON object, a bad ``executionunits``...
    """
    wire: dict[str, Any] = dict(cloudevent.get_attributes())
    wire.setdefault("datacontenttype", "application/json")
    time = wire.get("time")
    if isinstance(time, datetime):
        wire["time"] = _arvo_time(time)
    units = wire.get("executionunits")
    if isinstance(units, str):  # binary mode: a header, i.e. text
        wire["executionunits"] = _number("executionunits", units)
    wire["data"] = _data(cloudevent.get_data(), wire["datacontenttype"])
    return ArvoEvent.from_dict(wire)


def to_http_binary(event: ArvoEvent) -> HTTPMessage:
    """The HTTP binary content mode message: ``ce-`` headers, ``data`` as the JSON body.

    Returns the SDK's ``HTTPMessage`` (``headers``, ``body``), ready for any HTTP client.
    """
    _require("to_http_binary")
    from cloudevents.core.bindings.http import to_binary_event  # noqa: PLC0415

    return to_binary_event(to_cloudevent(event))


def to_http_structured(event: ArvoEvent) -> HTTPMessage:
    """The HTTP structured content mode message (``application/cloudevents+json``)."""
    _require("to_http_structured")
    from cloudevents.core.bindings.http import to_structured_event  # noqa: PLC0415

    return to_structured_event(to_cloudevent(event))


def from_http(headers: Mapping[str, str], body: bytes | str) -> ArvoEvent:
    """The ``ArvoEvent`` of an HTTP request or response, in either content mode.

    ``headers`` as received (any case); the mode is detected as the SDK does (any
    ``ce-`` header: binary, else structured).

    Raises:
        ArvoEventValidationError: the message does not hold a valid ArvoEvent.
        MissingExtraError: the ``cloudevents`` SDK is not installed.
    """
    _require("from_http")
    from cloudevents.core.bindings.http import HTTPMessage, from_http_event  # noqa: PLC0415

    raw = body.encode() if isinstance(body, str) else body
    message = HTTPMessage(headers={k.lower(): v for k, v in headers.items()}, body=raw)
    try:
        cloudevent = from_http_event(message)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArvoEventValidationError("<event>", body, f"is not a CloudEvent: {exc}") from exc
    return from_cloudevent(cloudevent)


def _arvo_time(value: datetime) -> str:
    # UTC as Arvo writes it (milliseconds, +00:00); any other offset as ISO 8601 does.
    if value.utcoffset() == _NO_OFFSET:
        spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
        return value.replace(tzinfo=None).isoformat(timespec=spec) + "+00:00"
    return value.isoformat()


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ArvoEventValidationError(field, text, "must be a number") from None


def _data(data: object, content_type: str) -> object:
    if isinstance(data, bytes | str) and any(kind in content_type for kind in _JSON_TYPES):
        try:
            return json.loads(data)
        except ValueError:
            raise ArvoEventValidationError("data", data, "is not valid JSON") from None
    return {} if data is None else data
