"""Compact JSON exactly as JavaScript's ``JSON.stringify`` writes it.

Python and JavaScript agree on compact JSON text for strings, ``null``, booleans and integers,
but not on floats: JavaScript writes ``1.0`` as ``1``, ``3e-6`` as ``0.000003`` and ``1e21`` as
``1e+21``. Events, subjects and ids must be byte-identical to the TypeScript ones, so every
float goes through :func:`js_number` before encoding.

All functions here are pure and thread-safe.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

__all__ = ["compact_json", "js_number", "jsify"]

_encode = msgspec.json.encode


def js_number(value: float) -> str:
    """Return JavaScript's ``JSON.stringify(value)`` for a float (ECMAScript Number::toString).

    Non-finite values become ``null``, as in JavaScript; ``-0.0`` becomes ``0``.
    """
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, n = _shortest_digits(abs(value))
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    exponent = n - 1
    exp_text = ("+" if exponent >= 0 else "-") + str(abs(exponent))
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return sign + mantissa + "e" + exp_text


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits ``s`` and ``n`` with ``value == 0.s * 10**n`` (value > 0).

    Python's ``repr`` and JavaScript both pick the shortest digit string that round-trips,
    so the digits are the same; only their layout differs.
    """
    mantissa, _, exp = repr(value).partition("e")
    int_part, _, frac = mantissa.partition(".")
    raw = (int_part + frac).lstrip("0")
    stripped = raw.rstrip("0")
    # value == int(raw) * 10**(exp - len(frac)); n counts the digits before the point.
    n = (int(exp) if exp else 0) - len(frac) + len(raw)
    return stripped, n


def jsify(value: Any) -> Any:
    """Return ``value`` with every float replaced by its JavaScript text (a ``msgspec.Raw``).

    Containers without floats are returned as they are, so float-free data costs one walk and
    no copies.
    """
    if isinstance(value, float):
        return msgspec.Raw(js_number(value).encode())
    if isinstance(value, dict):
        converted = {key: jsify(item) for key, item in value.items()}
        changed = any(converted[key] is not item for key, item in value.items())
        return converted if changed else value
    if isinstance(value, list):
        items = [jsify(item) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value
    return value


def compact_json(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON identical to JavaScript's ``JSON.stringify``.

    Raises:
        TypeError: ``value`` holds something JSON cannot carry.
        UnicodeEncodeError: a string holds a lone surrogate.
    """
    return _encode(jsify(value))
