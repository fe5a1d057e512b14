"""``ArvoEvent``: an immutable, validated CloudEvent with Arvo's extensions, and its wire form.

The wire form (``to_dict`` / ``to_json``) is flat and byte-identical to arvo-core's
``toJSON()``: every key present, nulls included, custom extensions between ``time`` and ``to``,
numbers written as JavaScript writes them.

Events are immutable and therefore safe to share between threads; construction validates every
field (docs/arvo-model.md §1) and is on the broker's hot path, so the checks are kept cheap.
Whatever construction accepts can be written by ``to_json``: strings hold no lone surrogates, and
``data`` nests at most :data:`MAX_DATA_DEPTH` containers deep (docs/arvo-model.md §8.10).
"""

from __future__ import annotations

import logging
import math
import re
import reprlib
import time
from functools import lru_cache
from typing import Any, ClassVar

import msgspec

from arvo_concurrent.arvo.ids import ArvoEventIdError, create_arvo_event_id
from arvo_concurrent.arvo.jsonwire import compact_json
from arvo_concurrent.arvo.uri import UriError, encode_uri, validate_uri
from arvo_concurrent.errors import ArvoConcurrentError

__all__ = [
    "ARVO_DATA_CONTENT_TYPE",
    "MAX_DATA_DEPTH",
    "RESERVED_EVENT_KEYS",
    "ArvoEvent",
    "ArvoEventValidationError",
    "ExtensionValue",
    "create_arvo_event",
    "create_timestamp",
]

_log = logging.getLogger(__name__)

ARVO_DATA_CONTENT_TYPE = "application/cloudevents+json;charset=UTF-8;profile=arvo"

ExtensionValue = str | int | float | bool | None

MAX_DATA_DEPTH = 100
"""How deep an event's ``data`` may nest: the data object counts as one level, each dict or
list inside it as one more. Far above what real payloads need, and far below the depth at
which decoding or writing the JSON would exhaust the interpreter's recursion limit."""

# The 17 keys of the wire form; custom extensions may not take these names
# (docs/arvo-model.md §8.2).
RESERVED_EVENT_KEYS = frozenset(
    (
        *("id", "source", "specversion", "type", "subject", "datacontenttype", "dataschema"),
        *("data", "time", "to", "accesscontrol", "redirectto", "executionunits"),
        *("traceparent", "tracestate", "parentid", "domain"),
    )
)

TYPE_PATTERN = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)+\.[a-z0-9]+")
DOMAIN_PATTERN = re.compile(r"[a-z0-9.]+")
_EXTENSION_KEY = re.compile(r"[a-z0-9]+")
# zod's datetime({offset: true}) pattern, in two parts: a real calendar date (leap years
# included; always exactly 10 characters), then HH:MM, optional :SS with any fraction, then Z or
# an offset with minutes. The date part repeats from event to event, so its answer is cached.
_DATE_LENGTH = 10
_DATE_PATTERN = re.compile(
    r"(\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29"
    r"|\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)"
    r"|(02)-(0[1-9]|1\d|2[0-8]))"
)
_CLOCK_PATTERN = re.compile(r"T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")
_KNOWN_CONTENT_TYPES = ("application/cloudevents+json", "application/json")

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class ArvoEventValidationError(ArvoConcurrentError, ValueError):
    """An event field (or event creation input) that breaks an ArvoEvent rule.

    Attributes:
        field: the wire name of the offending field (``"extensions.<key>"`` for an extension).
        value: the offending value.
    """

    def __init__(self, field: str, value: object, rule: str) -> None:
        super().__init__(f"Invalid ArvoEvent field '{field}' (value={_shown(value)}): {rule}")
        self.field = field
        self.value = value


class ArvoEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An immutable Arvo event (a CloudEvent 1.0 with Arvo and OpenTelemetry extensions).

    Construct it with :func:`create_arvo_event` (which fills defaults and URI-encodes fields as
    arvo-core does) or directly, which only validates. Copy with ``msgspec.structs.replace``,
    which validates again. Instances are immutable and thread-safe to share; do not mutate
    ``data`` or ``extensions`` in place.

    Raises:
        ArvoEventValidationError: on construction, naming the first field that breaks a rule.
    """

    id: str
    source: str
    specversion: str = "1.0"
    type: str
    subject: str
    datacontenttype: str = ARVO_DATA_CONTENT_TYPE
    dataschema: str | None = None
    data: dict[str, Any]
    time: str
    to: str | None = None
    accesscontrol: str | None = None
    redirectto: str | None = None
    executionunits: float | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    parentid: str | None = None
    domain: str | None = None
    extensions: dict[str, ExtensionValue] = msgspec.field(default_factory=dict)

    _ARVO_KEYS: ClassVar[tuple[str, ...]] = (
        "to",
        "accesscontrol",
        "redirectto",
        "executionunits",
        "traceparent",
        "tracestate",
        "parentid",
        "domain",
    )

    def __post_init__(self) -> None:
        # Every event is built through here, on the hot path: the common cases (default
        # content type, absent optional fields) cost one comparison each.
        _check_text("id", self.id)
        _check_uri("source", self.source)
        if self.specversion != "1.0":
            raise ArvoEventValidationError("specversion", self.specversion, "must be '1.0'")
        if not isinstance(self.type, str) or not _is_type(self.type):
            raise ArvoEventValidationError(
                "type",
                self.type,
                "must be at least 3 dot-separated segments of lowercase letters and digits",
            )
        _check_uri("subject", self.subject)
        if self.datacontenttype != ARVO_DATA_CONTENT_TYPE:
            _check_content_type(self.datacontenttype)
        if self.dataschema is not None:
            _check_uri("dataschema", self.dataschema)
        _check_time(self.time)
        _check_data(self.data)
        self._check_arvo_fields()
        if self.extensions:
            _check_extensions(self.extensions)

    def _check_arvo_fields(self) -> None:
        if self.to is not None:
            _check_uri("to", self.to)
        elif self.datacontenttype == ARVO_DATA_CONTENT_TYPE:
            raise ArvoEventValidationError(
                "to", None, "The ArvoEvent must have a non-empty 'to' field"
            )
        if self.accesscontrol is not None:
            _check_text("accesscontrol", self.accesscontrol)
        if self.redirectto is not None:
            _check_uri("redirectto", self.redirectto)
        if self.executionunits is not None:
            _check_execution_units(self.executionunits)
        if self.traceparent is not None:
            _check_text("traceparent", self.traceparent)
        if self.tracestate is not None:
            _check_text("tracestate", self.tracestate)
        if self.parentid is not None:
            _check_text("parentid", self.parentid)
        if self.domain is not None and not (
            isinstance(self.domain, str) and _is_domain(self.domain)
        ):
            raise ArvoEventValidationError(
                "domain", self.domain, "must be null or match ^[a-z0-9.]+$"
            )

    def to_dict(self) -> dict[str, Any]:
        """The wire form as a dict, keys in arvo-core's order, every key present.

        ``data`` and extension values are the event's own objects, not copies.
        """
        wire: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "specversion": self.specversion,
            "type": self.type,
            "subject": self.subject,
            "datacontenttype": self.datacontenttype,
            "dataschema": self.dataschema,
            "data": self.data,
            "time": self.time,
        }
        for key, value in self.extensions.items():
            wire[key] = value
        for key in self._ARVO_KEYS:
            wire[key] = getattr(self, key)
        return wire

    def to_json(self) -> str:
        """Compact JSON text, byte-identical to arvo-core's ``JSON.stringify(event.toJSON())``.

        Numbers are written as JavaScript writes them (``1.0`` -> ``1``, ``3e-6`` ->
        ``0.000003``); an infinite ``executionunits`` is written ``null``, as JavaScript does.
        """
        return compact_json(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, wire: dict[str, Any]) -> ArvoEvent:
        """Build an event from a wire-form dict (any CloudEvent).

        Missing Arvo/OTel keys become None, ``specversion`` and ``datacontenttype`` take their
        defaults, and every unknown key becomes a custom extension.

        Raises:
            ArvoEventValidationError: a field breaks a rule, or a required key is missing.
        """
        if not isinstance(wire, dict):
            raise ArvoEventValidationError("<event>", wire, "must be a JSON object")
        for key in ("id", "source", "type", "subject", "time", "data"):
            if key not in wire:
                raise ArvoEventValidationError(key, None, "is required")
        known = {key: value for key, value in wire.items() if key in RESERVED_EVENT_KEYS}
        extensions = {key: value for key, value in wire.items() if key not in RESERVED_EVENT_KEYS}
        return cls(**known, extensions=extensions)

    @classmethod
    def from_json(cls, text: str | bytes) -> ArvoEvent:
        """Build an event from its JSON text; see :meth:`from_dict`.

        Raises:
            ArvoEventValidationError: invalid JSON, or an invalid event.
        """
        try:
            wire = _decode(text)
        except msgspec.DecodeError as exc:
            raise ArvoEventValidationError("<event>", text, f"is not valid JSON: {exc}") from None
        except TypeError:
            raise ArvoEventValidationError(
                "<event>", text, "must be JSON text (str or bytes)"
            ) from None
        except RecursionError:
            # Only 'data' may hold containers; it failed before its own depth check could run.
            raise ArvoEventValidationError(
                "data", text, f"nests deeper than MAX_DATA_DEPTH ({MAX_DATA_DEPTH}) levels"
            ) from None
        return cls.from_dict(wire)


# Types, sources, subjects and domains repeat from event to event; remembering the answers
# takes the regex and URI work off the hot path (the checks are pure, and bounded).
_VALID_CACHE_SIZE = 8192


@lru_cache(maxsize=_VALID_CACHE_SIZE)
def _is_type(value: str) -> bool:
    return TYPE_PATTERN.fullmatch(value) is not None


@lru_cache(maxsize=_VALID_CACHE_SIZE)
def _is_domain(value: str) -> bool:
    return DOMAIN_PATTERN.fullmatch(value) is not None


@lru_cache(maxsize=_VALID_CACHE_SIZE)
def _is_uri(value: str) -> bool:
    return validate_uri(value)


@lru_cache(maxsize=_VALID_CACHE_SIZE)
def _is_date(value: str) -> bool:
    return _DATE_PATTERN.fullmatch(value) is not None


def _check_text(field: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ArvoEventValidationError(field, value, "must be a non-empty string")
    _check_encodable(field, value)


def _check_encodable(field: str, value: str) -> None:
    # A lone surrogate is a valid Python str but cannot be written as UTF-8 JSON.
    if value.isascii():
        return
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ArvoEventValidationError(
            field, value, "must be valid Unicode text (it holds a lone surrogate)"
        ) from None


def _check_uri(field: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ArvoEventValidationError(field, value, "must be a non-empty string")
    if not _is_uri(value):
        raise ArvoEventValidationError(
            field, value, "must be a valid URI (encodeURI(decodeURI(value)) == value)"
        )


def _check_content_type(value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ArvoEventValidationError("datacontenttype", value, "must be a non-empty string")
    _check_encodable("datacontenttype", value)
    if value != ARVO_DATA_CONTENT_TYPE and not any(
        known in value for known in _KNOWN_CONTENT_TYPES
    ):
        # arvo-core only warns here; logging (not warnings.warn) keeps it out of the caller's way.
        _log.warning("datacontenttype %r is not ArvoEvent compatible", value)


def _check_time(value: object) -> None:
    if not (
        isinstance(value, str)
        and _is_date(value[:_DATE_LENGTH])
        and _CLOCK_PATTERN.fullmatch(value, _DATE_LENGTH)
    ):
        raise ArvoEventValidationError(
            "time", value, "must be an RFC 3339 date-time with an offset (Z or +HH:MM)"
        )


def _check_data(data: object) -> None:
    if not isinstance(data, dict):
        raise ArvoEventValidationError("data", data, "must be a JSON object (a dict)")
    if _nests_deeper(data, MAX_DATA_DEPTH):
        raise ArvoEventValidationError(
            "data", data, f"nests deeper than MAX_DATA_DEPTH ({MAX_DATA_DEPTH}) levels"
        )
    # One C-speed round trip catches non-str keys, tuples, NaN/Inf, datetimes, Structs and any
    # other value that would not come back from the wire unchanged.
    try:
        survives = _decode(_encode(data)) == data
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, RecursionError):
        survives = False
    if not survives:
        raise ArvoEventValidationError(
            "data", data, "The Arvo data object must be a JSON serializable object"
        )


def _nests_deeper(data: dict[str, Any], limit: int) -> bool:
    """True when ``data`` nests more than ``limit`` containers deep (``data`` itself is one)."""
    # Iterative, so that it cannot itself run out of recursion; scalars cost one isinstance.
    pending: list[tuple[dict[Any, Any] | list[Any] | tuple[Any, ...], int]] = [(data, 1)]
    while pending:
        container, depth = pending.pop()
        children = container.values() if isinstance(container, dict) else container
        for child in children:
            if isinstance(child, dict | list | tuple):
                if depth == limit:
                    return True
                pending.append((child, depth + 1))
    return False


def _check_execution_units(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ArvoEventValidationError(
            "executionunits", value, "must be null or a number (not NaN)"
        )


def _check_extensions(extensions: object) -> None:
    if not isinstance(extensions, dict):
        raise ArvoEventValidationError("extensions", extensions, "must be a dict")
    for key, value in extensions.items():
        if not isinstance(key, str) or not _EXTENSION_KEY.fullmatch(key):
            raise ArvoEventValidationError(
                f"extensions.{key}", value, "extension names must match ^[a-z0-9]+$"
            )
        if key in RESERVED_EVENT_KEYS:
            raise ArvoEventValidationError(
                f"extensions.{key}", value, "is a reserved ArvoEvent field name"
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ArvoEventValidationError(
                f"extensions.{key}", value, "must be a string, number, boolean or null"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ArvoEventValidationError(f"extensions.{key}", value, "must be a finite number")
        if isinstance(value, str):
            _check_encodable(f"extensions.{key}", value)


# (second, "YYYY-MM-DDTHH:MM:SS") of the last timestamp made: events come many to a second,
# so the calendar formatting runs once a second. Replaced whole, so threads may race on it.
_last_second: tuple[int, str] = (-1, "")


def create_timestamp() -> str:
    """The current time in true UTC with milliseconds, e.g. ``2026-11-27T18:24:40.482+00:00``.

    (arvo-core labels local time as UTC; this does not: docs/arvo-model.md §8.1.)
    """
    global _last_second  # noqa: PLW0603 - a cache, replaced atomically
    second, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached = _last_second
    if cached[0] != second:
        cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _last_second = cached
    return f"{cached[1]}.{nanos // 1_000_000:03d}+00:00"


def create_arvo_event(
    *,
    type: str,  # the wire name
    source: str,
    subject: str,
    data: dict[str, Any],
    id: str | dict[str, str] | None = None,  # the wire name
    time: str | None = None,
    to: str | None = None,
    dataschema: str | None = None,
    accesscontrol: str | None = None,
    redirectto: str | None = None,
    executionunits: float | None = None,
    parentid: str | None = None,
    domain: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
    datacontenttype: str | None = None,
    specversion: str = "1.0",
    extensions: dict[str, ExtensionValue] | None = None,
) -> ArvoEvent:
    """Create an event with arvo-core's ``createArvoEvent`` defaults.

    * ``id``: a string is used as given; an id spec ``{"deduplication", "value"}`` is built by
      :func:`create_arvo_event_id`; None gives a uuid4.
    * ``time``: now, in true UTC with milliseconds.
    * ``to``: ``type`` when not given.
    * ``source``, ``subject``, ``to``, ``redirectto``, ``dataschema`` and ``parentid`` pass
      through :func:`encode_uri` first, exactly as arvo-core does, so spaces are accepted but
      already-escaped text is escaped again (``x%20y`` -> ``x%2520y``). This is the TypeScript
      wire behaviour and is kept for compatibility (docs/arvo-model.md §1.2, §8.3).

    ``create_arvo_event(**event.to_dict())`` rebuilds an event that has no custom extensions
    (identically when its URI fields hold no ``%``).

    Raises:
        ArvoEventValidationError: a field breaks a rule (the error names it).
    """
    try:
        event_id = id if isinstance(id, str) else create_arvo_event_id(id)
    except ArvoEventIdError as exc:
        raise ArvoEventValidationError("id", id, str(exc)) from None
    return ArvoEvent(
        id=event_id,
        source=_encoded("source", source),
        specversion=specversion,
        type=type,
        subject=_encoded("subject", subject),
        datacontenttype=datacontenttype or ARVO_DATA_CONTENT_TYPE,
        dataschema=_encoded("dataschema", dataschema) if dataschema else None,
        data=data,
        time=time if time is not None else create_timestamp(),
        to=_encoded("to", to) if to else _encoded("type", type),
        accesscontrol=accesscontrol,
        redirectto=_encoded("redirectto", redirectto) if redirectto else None,
        executionunits=executionunits,
        traceparent=traceparent,
        tracestate=tracestate,
        parentid=_encoded("parentid", parentid) if parentid else None,
        domain=domain,
        extensions=dict(extensions) if extensions else {},
    )


def _encoded(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ArvoEventValidationError(field, value, "must be a string")
    try:
        return encode_uri(value)
    except UriError as exc:
        raise ArvoEventValidationError(field, value, str(exc)) from None


def _shown(value: object) -> str:
    """``repr(value)`` for an error message; abbreviated when it nests too deep for repr."""
    try:
        return repr(value)
    except RecursionError:
        return reprlib.repr(value)
