"""Calling user functions with only the parameters they declare.

Arvo handlers in TypeScript destructure what they need from one argument object
(``({ event, contract }) => ...``). The Python equivalent is a plain function that
names the values it wants as parameters; :class:`Injector` inspects the signature
once, at construction, so a call on the hot path only picks a few dict entries.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any

from arvo_concurrent.arvo.handler import HandlerConfigError

__all__ = ["HandlerSignatureError", "Injector"]

_NAMED_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class HandlerSignatureError(HandlerConfigError, TypeError):
    """A user function declares a parameter the library cannot supply.

    Attributes:
        function: the offending function's qualified name.
        parameter: the parameter that cannot be supplied (``""`` when the whole
            function is unusable).
    """

    def __init__(self, function: str, parameter: str, message: str) -> None:
        super().__init__("parameter", parameter, message)
        self.function = function
        self.parameter = parameter


class Injector:
    """Calls one user function with the subset of named values it declares.

    A function with ``**kwargs`` receives every value. Construction raises
    :class:`HandlerSignatureError` for a parameter name outside ``available``, for
    ``*args`` and for positional-only parameters, so a typo fails when the handler is
    built rather than on the first event. Instances are immutable and thread-safe.

    Args:
        fn: the user function.
        available: the names this kind of function may ask for.
        role: how error messages refer to the function (``"handler for version 1.0.0"``).
    """

    __slots__ = ("_fn", "_names", "_takes_all")

    def __init__(self, fn: Callable[..., Any], available: Collection[str], role: str) -> None:
        if not callable(fn):
            raise HandlerSignatureError(repr(fn), "", f"The {role} must be callable, got {fn!r}")
        self._fn = fn
        self._names, self._takes_all = _declared_names(fn, available, role)

    def wants(self, name: str) -> bool:
        """Whether the function receives ``name``, so callers can skip costly values."""
        return self._takes_all or name in self._names

    def __call__(self, values: Mapping[str, Any]) -> Any:
        """Call the function with the declared entries of ``values``; it blocks as ``fn`` does."""
        if self._takes_all:
            return self._fn(**values)
        return self._fn(**{name: values[name] for name in self._names})


def _declared_names(
    fn: Callable[..., Any], available: Collection[str], role: str
) -> tuple[tuple[str, ...], bool]:
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise HandlerSignatureError(name, "", f"Cannot inspect the {role} {name}: {exc}") from exc
    names: list[str] = []
    takes_all = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_all = True
        elif param.kind not in _NAMED_KINDS:
            raise HandlerSignatureError(
                name,
                param.name,
                f"The {role} {name} declares {param.name!r} as {param.kind.description}; "
                f"declare only named parameters from: {', '.join(sorted(available))}",
            )
        elif param.name not in available:
            raise HandlerSignatureError(
                name,
                param.name,
                f"The {role} {name} declares an unknown parameter {param.name!r}; "
                f"the available ones are: {', '.join(sorted(available))}",
            )
        else:
            names.append(param.name)
    return (tuple(available) if takes_all else tuple(names)), takes_all
