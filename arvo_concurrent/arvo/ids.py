"""Arvo event ids: plain uuid4, developer-managed, or Arvo-managed deduplication ids.

An ``ARVO_MANAGED`` id is ``base64(zlib(compact JSON {"uuid": ..., "value": ...}))``, byte for
byte what arvo-core's ``createArvoEventId`` makes, so Python and TypeScript services agree on
ids built from the same value. All functions here are pure and thread-safe.
"""

from __future__ import annotations

import base64
import binascii
import os
import zlib
from collections.abc import Mapping
from typing import Literal, TypedDict

import msgspec

from arvo_concurrent.arvo.inflate import inflate
from arvo_concurrent.errors import ArvoConcurrentError

__all__ = [
    "ArvoEventIdContent",
    "ArvoEventIdError",
    "ArvoEventIdSpec",
    "create_arvo_event_id",
    "js_trim",
    "parse_arvo_event_id",
    "random_uuid",
]

# JavaScript's String.prototype.trim strips WhiteSpace and LineTerminator code points. That set
# differs from str.strip(): it includes U+FEFF and excludes U+001C-U+001F and U+0085.
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DEDUPLICATION_MODES = ("ARVO_MANAGED", "DEVELOPER_MANAGED")
# Ids arrive from outside: parsing one inflates no further than this.
_MAX_ID_CONTENT_BYTES = 64 * 1024


class ArvoEventIdSpec(TypedDict):
    """How ``create_arvo_event(id=...)`` should build an id."""

    deduplication: Literal["ARVO_MANAGED", "DEVELOPER_MANAGED"]
    value: str


class ArvoEventIdContent(msgspec.Struct, frozen=True):
    """The content of an ``ARVO_MANAGED`` id (field order is the wire order)."""

    uuid: str
    value: str


class ArvoEventIdError(ArvoConcurrentError, ValueError):
    """An id spec that is not ``{"deduplication": ..., "value": str}``.

    Attributes:
        spec: the rejected spec.
    """

    def __init__(self, spec: object, reason: str) -> None:
        super().__init__(f"Invalid event id spec {spec!r}: {reason}")
        self.spec = spec


def random_uuid() -> str:
    """A random (version 4, RFC 4122 variant) UUID string, as ``str(uuid.uuid4())`` makes it.

    The same bits from ``os.urandom``, formatted without building a ``uuid.UUID`` object
    (every emitted event needs one, so this is on the broker's hot path).
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10xx (RFC 4122)
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def js_trim(value: str) -> str:
    """Return JavaScript's ``value.trim()``."""
    return value.strip(_JS_WHITESPACE)


def create_arvo_event_id(
    spec: Mapping[str, str] | None = None, *, uuid_value: str | None = None
) -> str:
    """Build an event id from an id spec.

    * ``None``, or a spec whose value is blank: a fresh uuid4.
    * ``DEVELOPER_MANAGED``: the value, trimmed as JavaScript trims.
    * ``ARVO_MANAGED``: base64 of zlib-deflated compact JSON ``{"uuid", "value"}``.

    Args:
        spec: ``{"deduplication": "ARVO_MANAGED" | "DEVELOPER_MANAGED", "value": str}``.
        uuid_value: the uuid to embed instead of a fresh one (for reproducible tests).

    Raises:
        ArvoEventIdError: an unknown ``deduplication`` mode, or a ``value`` that is not a
            string or holds a lone surrogate.
    """
    if spec is None:
        return uuid_value or random_uuid()
    mode, value = spec.get("deduplication"), spec.get("value")
    if mode not in _DEDUPLICATION_MODES:
        raise ArvoEventIdError(spec, f"deduplication must be one of {_DEDUPLICATION_MODES}")
    if not isinstance(value, str):
        raise ArvoEventIdError(spec, "value must be a string")
    trimmed = js_trim(value)
    if not trimmed:
        return uuid_value or random_uuid()
    if mode == "DEVELOPER_MANAGED":
        return trimmed
    content = ArvoEventIdContent(uuid=uuid_value or random_uuid(), value=trimmed)
    try:
        raw = msgspec.json.encode(content)
    except UnicodeEncodeError:
        raise ArvoEventIdError(
            spec, "value must be valid Unicode text (a lone surrogate)"
        ) from None
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def parse_arvo_event_id(event_id: str) -> ArvoEventIdContent | None:
    """Decode an ``ARVO_MANAGED`` id; None when ``event_id`` is not one.

    Content that inflates past 64 KiB is not an id this library would make: None.
    """
    try:
        raw = inflate(base64.b64decode(event_id, validate=True), _MAX_ID_CONTENT_BYTES)
        return msgspec.json.decode(raw, type=ArvoEventIdContent)
    except (binascii.Error, msgspec.DecodeError, ValueError):
        return None
