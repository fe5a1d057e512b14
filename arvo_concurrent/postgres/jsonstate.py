"""States as JSON text for a ``jsonb`` column, refused when they would not come back equal.

``jsonb`` keeps strings, bools, null, arrays, objects with str keys, ints of any size
and decimal numbers. What it cannot carry back exactly is refused before anything is
sent, naming where it sits: non-str keys, tuples, sets, bytes and other Python types
(they would come back as lists or strings, or not encode), NaN and infinities (not
JSON), the character U+0000 (not storable in ``jsonb``), and floats of magnitude 1e16
or more (``jsonb`` prints them without a decimal point, so they would read back as
ints). A float ``-0.0`` reads back as ``0.0`` (numerically equal).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from arvo_concurrent.postgres.errors import StateEncodingError

__all__ = ["decode_state", "encode_state"]

_FLOAT_LIMIT = 1e16
_NUL = "\x00"


def encode_state(machine_id: str, data: dict[str, Any]) -> str:
    """The JSON text of ``data``. Thread-safe.

    Raises:
        StateEncodingError: naming the first value that would not round-trip.
    """
    _check(machine_id, data, data, "data")
    return msgspec.json.encode(data).decode()


def decode_state(text: str) -> dict[str, Any]:
    """The state whose JSON text the database returned. Thread-safe."""
    state: dict[str, Any] = msgspec.json.decode(text)
    return state


def _check(machine_id: str, root: object, value: object, path: str) -> None:
    # An explicit stack, not recursion: a deep state must not hit the recursion limit.
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        reason = _problem(item)
        if reason is not None:
            raise StateEncodingError(machine_id, root, where, reason)
        if type(item) is dict:
            for key, child in item.items():
                if type(key) is not str:
                    raise StateEncodingError(
                        machine_id, root, where, f"has a {type(key).__name__} key {key!r:.40}"
                    )
                if _NUL in key:
                    raise StateEncodingError(machine_id, root, where, "has a key with U+0000")
                stack.append((child, f"{where}[{key!r}]"))
        elif type(item) is list:
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))


def _problem(item: object) -> str | None:
    kind = type(item)
    if item is None or kind in (bool, int, dict, list):
        return None
    if kind is str:
        return "contains the character U+0000" if _NUL in item else None  # type: ignore[operator]
    if kind is float:
        number: float = item  # type: ignore[assignment]
        if not math.isfinite(number):
            return f"is {number!r}, which JSON cannot represent"
        if abs(number) >= _FLOAT_LIMIT:
            return f"is the float {number!r}, which would read back as an int"
        return None
    return f"is a {kind.__name__} ({item!r:.40}), which would not read back as one"
