"""Input and output middleware around a handler's execution.

Input middleware is a list of ``fn(event) -> event | None``: each one sees the event
the previous one produced, and ``None`` keeps the event as it is.

Output middleware is either a list of per-event ``fn(input, output) -> event | None``
(each output event goes through the whole list; ``None`` keeps it) or one bulk
``fn(input, outputs) -> list | None`` that sees every output at once (``None`` keeps
the list). ``input`` is the event the handler executed, after input middleware.

Middleware runs in the worker thread that executes the handler, so it may block,
and must be thread-safe when the handler's prefetch is above one. Whatever it raises
(a ``BaseException`` included) becomes a :class:`MiddlewareError`: the event counts as
failed, is reported, and is not retried (see :mod:`~arvo_concurrent.broker.pipeline`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import msgspec

from arvo_concurrent.errors import ArgumentError, ArgumentTypeError, ArvoConcurrentError

__all__ = [
    "BulkOutputMiddleware",
    "InputMiddleware",
    "Middleware",
    "MiddlewareError",
    "OutputMiddleware",
    "apply_input",
    "apply_output",
]

InputMiddleware: TypeAlias = Callable[[Any], Any]
OutputMiddleware: TypeAlias = Callable[[Any, Any], Any]
BulkOutputMiddleware: TypeAlias = Callable[[Any, list[Any]], Any]


class MiddlewareError(ArvoConcurrentError, RuntimeError):
    """A middleware function raised or returned something unusable.

    Attributes:
        stage: ``"input"`` or ``"output"``.
        event: the event being processed when it failed.
    """

    def __init__(self, stage: str, message: str, event: Any) -> None:
        super().__init__(f"{stage} middleware failed: {message}")
        self.stage = stage
        self.event = event


class Middleware(msgspec.Struct, frozen=True):
    """A handler's middleware: ``output`` is a tuple (per event) or one callable (bulk)."""

    input: tuple[InputMiddleware, ...] = ()
    output: tuple[OutputMiddleware, ...] | BulkOutputMiddleware = ()

    @classmethod
    def of(cls, value: Middleware | dict[str, Any] | None) -> Middleware:
        """Build from the user's config (a dict with ``input`` and ``output``), checking shapes."""
        if value is None:
            return cls()
        if isinstance(value, Middleware):
            return value
        if not isinstance(value, dict):
            raise ArgumentTypeError(
                f"middleware must be a dict with 'input'/'output', got {value!r}",
                "middleware",
                value,
            )
        unknown = set(value) - {"input", "output"}
        if unknown:
            raise ArgumentError(
                f"Unknown middleware keys {sorted(unknown)}; use 'input' and 'output'",
                "middleware",
                sorted(unknown),
            )
        return cls(
            input=_input_chain(value.get("input")), output=_output_chain(value.get("output"))
        )


def _input_chain(value: object) -> tuple[InputMiddleware, ...]:
    if value is None:
        return ()
    # A single function is accepted, as the TypeScript broker does.
    items = [value] if callable(value) else value
    return _callables(items, "middleware.input")


def _output_chain(value: object) -> tuple[OutputMiddleware, ...] | BulkOutputMiddleware:
    if value is None:
        return ()
    if callable(value):
        return value
    return _callables(value, "middleware.output")


def _callables(items: object, name: str) -> tuple[Callable[..., Any], ...]:
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ArgumentTypeError(
            f"{name} must be a function or a list of functions, got {items!r}", name, items
        )
    for item in items:
        if not callable(item):
            raise ArgumentTypeError(f"{name} must hold functions, got {item!r}", name, item)
    return tuple(items)


def apply_input(chain: Sequence[InputMiddleware], event: Any) -> Any:
    """Run the input chain; returns the event to execute.

    Raises:
        MiddlewareError: a middleware raised (the original error is the ``__cause__``).
    """
    for fn in chain:
        try:
            result = fn(event)
        except BaseException as error:  # a CancelledError too: re-raised as MiddlewareError
            raise MiddlewareError("input", repr(error), event) from error
        if result is not None:
            event = result
    return event


def apply_output(
    middleware: tuple[OutputMiddleware, ...] | BulkOutputMiddleware, source: Any, outputs: list[Any]
) -> list[Any]:
    """Run the output middleware over a handler's ``outputs``; returns the events to emit.

    Raises:
        MiddlewareError: a middleware raised or a bulk middleware returned a non-list.
    """
    if callable(middleware):
        return _apply_bulk(middleware, source, outputs)
    if not middleware:
        return outputs
    return [_apply_each(middleware, source, output) for output in outputs]


def _apply_bulk(fn: BulkOutputMiddleware, source: Any, outputs: list[Any]) -> list[Any]:
    try:
        result = fn(source, list(outputs))
    except BaseException as error:  # a CancelledError too: re-raised as MiddlewareError
        raise MiddlewareError("output", repr(error), source) from error
    if result is None:
        return outputs
    if not isinstance(result, list):
        raise MiddlewareError(
            "output", f"bulk middleware must return a list, got {result!r}", source
        )
    return result


def _apply_each(chain: tuple[OutputMiddleware, ...], source: Any, output: Any) -> Any:
    for fn in chain:
        try:
            result = fn(source, output)
        except BaseException as error:  # a CancelledError too: re-raised as MiddlewareError
            raise MiddlewareError("output", repr(error), source) from error
        if result is not None:
            output = result
    return output
