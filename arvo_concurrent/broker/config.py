"""Handler configuration for ``create_concurrent_event_broker``: shapes, checks and merging.

Each handler entry (a dict, or a :class:`HandlerConfig`) may set ``prefetch``,
``max_queued``, ``retry``, ``on_error`` and ``middleware``; whatever it leaves out comes from
``default_handler_config``, field by field (``retry`` and ``middleware`` too, key by
key), then from the library defaults. Unknown keys are refused with their names,
so a typo never silently becomes a default.

Every configuration of the library has one shape: a frozen ``msgspec.Struct`` whose
``__post_init__`` checks the fields it is given and raises an
:class:`~arvo_concurrent.errors.ArgumentError` naming the first bad one
(:class:`HandlerConfig`, :class:`~arvo_concurrent.broker.retry.RetryPolicy`,
:class:`~arvo_concurrent.memory.config.MemoryConfig`). A dict entry is made into a
:class:`HandlerConfig`, so both are checked alike, when they are made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import msgspec

from arvo_concurrent.arvo import IArvoEventHandler, TransactionViolation, is_violation_error
from arvo_concurrent.broker.limits import check_max_queued, check_prefetch
from arvo_concurrent.broker.middleware import Middleware
from arvo_concurrent.broker.retry import ErrorDecision, RetryDecider, RetryInfo, RetryPolicy
from arvo_concurrent.errors import ArgumentError, ArgumentTypeError

__all__ = ["HandlerConfig", "ResolvedHandlerConfig", "default_on_error", "resolve_handler_config"]

_RETRY_KEYS = frozenset({"max_retries", "initial_delay_ms", "backoff_exponent"})
_MIDDLEWARE_KEYS = frozenset({"input", "output"})


class HandlerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One handler entry, typed; each field given is checked when it is made.

    Fields left as None fall back to ``default_handler_config``, then to the library
    defaults. ``handler`` is an Arvo handler; the broker calls only its ``source`` (the
    topic it serves) and ``execute``, so any object with both runs.

    Raises:
        ArgumentError: naming the first field whose value is wrong (a ValueError;
            :class:`~arvo_concurrent.errors.ArgumentTypeError`, also a TypeError, for a
            value of the wrong kind; ``SubscriptionError`` for ``prefetch`` and
            ``max_queued``, as ``subscribe`` raises).
    """

    handler: IArvoEventHandler | None = None
    prefetch: int | None = None
    max_queued: int | None = None
    retry: Mapping[str, Any] | None = None
    on_error: RetryDecider | None = None
    middleware: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.handler is not None:
            _check_handler(self.handler)
        source = getattr(self.handler, "source", None)
        topic = source if isinstance(source, str) else None
        if self.prefetch is not None:
            check_prefetch(self.prefetch, topic)
        check_max_queued(self.max_queued, topic)
        if self.on_error is not None and not callable(self.on_error):
            raise ArgumentTypeError(
                f"on_error must be a function, got {self.on_error!r}", "on_error", self.on_error
            )
        _check_keys(self.retry, "retry", _RETRY_KEYS)
        _check_keys(self.middleware, "middleware", _MIDDLEWARE_KEYS)

    @classmethod
    def of(
        cls, entry: Mapping[str, Any] | HandlerConfig | None, where: str, allowed: frozenset[str]
    ) -> HandlerConfig:
        """``entry`` as a HandlerConfig: keys set to None count as left out.

        Raises:
            ArgumentError: ``entry`` is not a dict or HandlerConfig, sets a key outside
                ``allowed``, or a bad value (see the class).
        """
        if entry is None:
            return cls()
        if isinstance(entry, HandlerConfig):
            given = {f: getattr(entry, f) for f in entry.__struct_fields__}
        elif isinstance(entry, Mapping):
            given = dict(entry)
        else:
            raise ArgumentTypeError(f"{where} must be a dict, got {entry!r}", where, entry)
        given = {key: value for key, value in given.items() if value is not None}
        _refuse_unknown(given, where, allowed)
        return entry if isinstance(entry, HandlerConfig) else cls(**given)


_ENTRY_KEYS = frozenset(HandlerConfig.__struct_fields__)


class ResolvedHandlerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A handler entry with every field decided (and checked)."""

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


def _check_handler(value: object) -> IArvoEventHandler:
    # Only the two members the broker calls are required, as they always were: a
    # duck-typed handler without system_error_schema keeps running.
    if value is None or not hasattr(value, "execute") or not hasattr(value, "source"):
        raise ArgumentTypeError(
            f"handler config needs 'handler', an object with 'source' and 'execute', got {value!r}",
            "handler",
            value,
        )
    return cast(IArvoEventHandler, value)


def _refuse_unknown(given: Mapping[str, Any], where: str, allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ArgumentError(
            f"Unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}", where, unknown
        )


def _check_keys(value: object, where: str, allowed: frozenset[str]) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{where} must be a dict, got {value!r}", where, value)
    _refuse_unknown({k: v for k, v in value.items() if v is not None}, where, allowed)


def _merged(default: Mapping[str, Any] | None, own: Mapping[str, Any] | None) -> dict[str, Any]:
    # Key by key: what the entry sets wins; None counts as left out.
    merged = {k: v for k, v in (default or {}).items() if v is not None}
    merged.update({k: v for k, v in (own or {}).items() if v is not None})
    return merged


def resolve_handler_config(
    entry: Mapping[str, Any] | HandlerConfig, default: Mapping[str, Any] | HandlerConfig | None
) -> ResolvedHandlerConfig:
    """Merge one handler entry over ``default`` and the library defaults, checking every field.

    Raises:
        ArgumentError: naming the key and the value that is wrong (a ValueError, or an
            :class:`~arvo_concurrent.errors.ArgumentTypeError`, also a TypeError).
    """
    own = HandlerConfig.of(entry, "handler config", _ENTRY_KEYS)
    base = HandlerConfig.of(default, "default_handler_config", _ENTRY_KEYS - {"handler"})
    handler = _check_handler(own.handler)
    prefetch = own.prefetch if own.prefetch is not None else base.prefetch
    on_error = own.on_error if own.on_error is not None else base.on_error
    return ResolvedHandlerConfig(
        handler=handler,
        prefetch=1 if prefetch is None else prefetch,
        max_queued=own.max_queued if own.max_queued is not None else base.max_queued,
        retry=RetryPolicy(**_merged(base.retry, own.retry)),
        on_error=default_on_error if on_error is None else on_error,
        middleware=Middleware.of(_merged(base.middleware, own.middleware)),
    )
