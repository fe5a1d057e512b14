"""JavaScript's ``encodeURI`` / ``decodeURI`` and Arvo's ``validateURI``, ported exactly.

Arvo (TypeScript) passes ``source``, ``subject``, ``to``, ``redirectto``, ``dataschema`` and
``parentid`` through ``encodeURI`` when it creates an event, and checks URI fields with
``validateURI``. Wire compatibility needs the very same answers, including JavaScript's odd
corners: ``decodeURI`` keeps escapes of reserved characters, and ``%`` itself is encoded.

All functions here are pure and thread-safe.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from arvo_concurrent.errors import ArvoConcurrentError

__all__ = ["UriError", "decode_uri", "encode_uri", "validate_uri"]

# The characters encodeURI leaves alone, besides ASCII letters and digits.
_UNESCAPED_MARKS = ";,/?:@&=+$-_.!~*'()#"
_ALREADY_ENCODED = re.compile(r"[A-Za-z0-9;,/?:@&=+$\-_.!~*'()#]*")
# decodeURI leaves escapes of these characters as they are (with their original hex case).
_RESERVED_FOR_DECODE = frozenset(";/?:@&=+$,#")
_HEX = frozenset("0123456789abcdefABCDEF")


class UriError(ArvoConcurrentError, ValueError):
    """The JavaScript ``URIError: URI malformed``: a string that cannot be encoded or decoded.

    Attributes:
        value: the string that was being encoded or decoded.
    """

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"URI malformed ({reason}): {value!r}")
        self.value = value


def encode_uri(value: str) -> str:
    """Return JavaScript's ``encodeURI(value)``.

    Every character outside ``A-Z a-z 0-9 ; , / ? : @ & = + $ - _ . ! ~ * ' ( ) #`` is
    percent-encoded as UTF-8 with uppercase hex, ``%`` included (so ``"x%20y"`` becomes
    ``"x%2520y"``).

    Raises:
        UriError: ``value`` holds a lone UTF-16 surrogate, as JavaScript does.
    """
    if _ALREADY_ENCODED.fullmatch(value):
        return value
    try:
        return quote(value, safe=_UNESCAPED_MARKS, encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        raise UriError(value, "lone surrogate") from None


def decode_uri(value: str) -> str:
    """Return JavaScript's ``decodeURI(value)``.

    ``%XX`` runs that form valid UTF-8 are decoded, except escapes of ``; / ? : @ & = + $ , #``,
    which stay as written.

    Raises:
        UriError: a ``%`` not followed by two hex digits, or escapes that are not valid UTF-8
            (truncated, overlong, surrogate or out-of-range sequences).
    """
    if "%" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        first = _byte_at(value, i)
        if first < 0x80:
            decoded = chr(first)
            out.append(value[i : i + 3] if decoded in _RESERVED_FOR_DECODE else decoded)
            i += 3
            continue
        length = _utf8_length(value, first)
        raw = bytes(_byte_at(value, i + 3 * k) for k in range(length))
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise UriError(value, "invalid UTF-8 escape sequence") from None
        i += 3 * length
    return "".join(out)


def validate_uri(value: str) -> bool:
    """Return Arvo's ``validateURI(value)``: ``encode_uri(decode_uri(value)) == value``.

    False, rather than an error, when decoding or encoding fails.
    """
    if _ALREADY_ENCODED.fullmatch(value):
        return True
    try:
        return encode_uri(decode_uri(value)) == value
    except UriError:
        return False


def _byte_at(value: str, i: int) -> int:
    """The byte of the ``%XX`` escape at ``value[i]``."""
    if i + 2 >= len(value):
        raise UriError(value, f"truncated escape at index {i}")
    if value[i] != "%" or value[i + 1] not in _HEX or value[i + 2] not in _HEX:
        raise UriError(value, f"bad escape at index {i}")
    return int(value[i + 1 : i + 3], 16)


def _utf8_length(value: str, first: int) -> int:
    """The length of the UTF-8 sequence that starts with byte ``first``."""
    if first & 0xE0 == 0xC0:
        return 2
    if first & 0xF0 == 0xE0:
        return 3
    if first & 0xF8 == 0xF0:
        return 4
    raise UriError(value, f"byte 0x{first:02X} cannot start a UTF-8 sequence")
