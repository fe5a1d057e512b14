"""Handler configuration for ``create_concurrent_event_broker``: shapes, checks and merging.

Each handler entry (a dict or a :class:`HandlerConfig`) may set ``prefetch``,
``max_queued``, ``retry``, ``on_error`` and ``middleware``; whatever it leaves out comes from
``default_handler_config``, field by field (``retry`` and ``middleware`` too, key by
key), then from the library defaults. Unknown keys are refused with their names,
so a typo never silently becomes a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import msgspec

from arvo_concurrent.arvo import IArvoEventHandler, TransactionViolation, is_violation_error
from arvo_concurrent.broker.middleware import Middleware
from arvo_concurrent.broker.retry import ErrorDecision, RetryDecider, RetryInfo, RetryPolicy

__all__ = ["HandlerConfig", "ResolvedHandlerConfig", "default_on_error", "resolve_handler_config"]

_ENTRY_KEYS = frozenset({"handler", "prefetch", "max_queued", "retry", "on_error", "middleware"})
_RETRY_KEYS = frozenset({"max_retries", "initial_delay_ms", "backoff_exponent"})
_MIDDLEWARE_KEYS = frozenset({"input", "output"})


class HandlerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One handler entry, typed. Fields left as None fall back to the defaults.

    ``handler`` is an Arvo handler; the broker calls only its ``source`` (the topic it
    serves) and ``execute``, so any object with both runs.
    """

    handler: IArvoEventHandler | None = None
    prefetch: int | None = None
    max_queued: int | None = None
    retry: Mapping[str, Any] | None = None
    on_error: RetryDecider | None = None
    middleware: Mapping[str, Any] | None = None


class ResolvedHandlerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A handler entry with every field decided."""

    handler: IArvoEventHandler
    prefetch: int
    max_queued: int | None
    retry: RetryPolicy
    on_error: RetryDecider
    middleware: Middleware


def default_on_error(error: BaseException, info: RetryInfo) -> ErrorDecision:
    """Retry what may pass on a second try; stop at once on what cannot.

    Contract, config and execution violations are deterministic (the same event fails
    the same way every time), so they are thrown to ``on_broker_error`` at once
    instead of being retried (the TypeScript broker retries them). A
    ``TransactionViolation`` (a lock not acquired, a memory failure) and any other
    error is retried.
    """
    if is_violation_error(error) and not isinstance(error, TransactionViolation):
        return ErrorDecision.THROW
    return ErrorDecision.RETRY


def _as_mapping(entry: object, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    if entry is None:
        return {}
    if isinstance(entry, HandlerConfig):
        entry = {f: getattr(entry, f) for f in entry.__struct_fields__}
    if not isinstance(entry, Mapping):
        raise TypeError(f"{where} must be a dict, got {entry!r}")
    given = {k: v for k, v in entry.items() if v is not None}
    unknown = set(given) - allowed
    if unknown:
        raise ValueError(f"Unknown key(s) {sorted(unknown)} in {where}; allowed: {sorted(allowed)}")
    return given


def _merged(own: Mapping[str, Any], default: Mapping[str, Any], key: str) -> dict[str, Any]:
    allowed = _RETRY_KEYS if key == "retry" else _MIDDLEWARE_KEYS
    merged = _as_mapping(default.get(key), f"default_handler_config.{key}", allowed)
    merged.update(_as_mapping(own.get(key), f"handler config {key}", allowed))
    return merged


def _prefetch(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"prefetch must be a positive integer, got {value!r}")
    return value


def _max_queued(value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"max_queued must be None or an integer >= 0, got {value!r}")
    return value


def _handler(value: object) -> IArvoEventHandler:
    # Only the two members the broker calls are required, as they always were: a
    # duck-typed handler without system_error_schema keeps running.
    if value is None or not hasattr(value, "execute") or not hasattr(value, "source"):
        raise TypeError(
            f"handler config needs 'handler', an object with 'source' and 'execute', got {value!r}"
        )
    return cast(IArvoEventHandler, value)


def resolve_handler_config(
    entry: Mapping[str, Any] | HandlerConfig, default: Mapping[str, Any] | HandlerConfig | None
) -> ResolvedHandlerConfig:
    """Merge one handler entry over ``default`` and the library defaults, checking every field.

    Raises:
        TypeError / ValueError: naming the key and the value that is wrong.
    """
    own = _as_mapping(entry, "handler config", _ENTRY_KEYS)
    base = _as_mapping(default, "default_handler_config", _ENTRY_KEYS - {"handler"})
    handler = _handler(own.get("handler"))
    on_error = own.get("on_error", base.get("on_error", default_on_error))
    if not callable(on_error):
        raise TypeError(f"on_error must be a function, got {on_error!r}")
    return ResolvedHandlerConfig(
        handler=handler,
        prefetch=_prefetch(own.get("prefetch", base.get("prefetch", 1))),
        max_queued=_max_queued(own.get("max_queued", base.get("max_queued"))),
        retry=RetryPolicy(**_merged(own, base, "retry")),
        on_error=on_error,
        middleware=Middleware.of(_merged(own, base, "middleware")),
    )
