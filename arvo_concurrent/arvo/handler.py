"""The handler interface the broker runs, and the system error record all handlers share.

Every Arvo handler (plain event handler, resumable, orchestrator) is an
:class:`IArvoEventHandler`: a ``source`` (its broker topic) and a synchronous
``execute(event) -> list[ArvoEvent]`` that a broker worker thread calls. Failures
split in two (docs/arvo-model.md §2.4): violations raise out of ``execute`` so the broker can
retry or report them; every other error becomes a ``sys.<type>.error`` event whose
payload :func:`error_payload` builds.
"""

from __future__ import annotations

import builtins
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.errors import ArvoConcurrentError

if TYPE_CHECKING:
    from arvo_concurrent.arvo.contract import ArvoContract

__all__ = [
    "HandlerConfigError",
    "IArvoEventHandler",
    "SystemErrorSchema",
    "check_handler_versions",
    "error_payload",
]


class HandlerConfigError(ArvoConcurrentError, ValueError):
    """A handler, resumable, orchestrator or machine was built with a bad configuration.

    Raised at construction, never from ``execute``.

    Attributes:
        field: the configuration field that is wrong (``"handler"``, ``"machines"``...).
        value: the offending value (a version, a state name, an event type...).
    """

    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


@dataclass(frozen=True, slots=True)
class SystemErrorSchema:
    """The system error event a handler emits: its type and payload schema.

    Attributes:
        type: ``sys.<contract type>.error``.
        schema: the msgspec Struct type of the payload ``{errorName, errorMessage, errorStack}``.
    """

    type: str
    schema: builtins.type[Any]

    @classmethod
    def of(cls, contract: ArvoContract) -> SystemErrorSchema:
        """The system error event of ``contract``."""
        return cls(contract.system_error.type, contract.system_error.schema)


@runtime_checkable
class IArvoEventHandler(Protocol):
    """What a broker needs from a handler.

    ``execute`` is synchronous and runs in a broker worker thread; implementations
    must be thread-safe, because a broker with ``prefetch > 1`` calls ``execute`` for
    several events at the same time.
    """

    @property
    def source(self) -> str:
        """The handler's identity and broker topic: events with ``to == source`` reach it."""
        ...

    @property
    def system_error_schema(self) -> SystemErrorSchema:
        """The ``sys.<type>.error`` event this handler emits for unexpected failures."""
        ...

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        """Handle one event and return the events to publish next.

        Blocks for as long as the handler's work (and, for stateful handlers, the
        machine memory's lock wait) takes.

        Raises:
            ViolationError: for input, configuration, execution or transaction
                violations; any other error is returned as system error events.
        """
        ...


def error_payload(error: BaseException) -> dict[str, Any]:
    """The wire payload of a system error event: ``{errorName, errorMessage, errorStack}``."""
    stack = "".join(traceback.format_exception(error)).rstrip("\n")
    return {"errorName": type(error).__name__, "errorMessage": str(error), "errorStack": stack}


def check_handler_versions(contract: ArvoContract, handler: object) -> None:
    """Check that ``handler`` maps exactly the versions of ``contract`` to functions.

    Raises:
        HandlerConfigError: ``handler`` is not a mapping, or a version is missing or unknown.
    """
    if not isinstance(handler, Mapping):
        raise HandlerConfigError(
            "handler", handler, f"handler must map versions to functions, got {handler!r}"
        )
    missing = [v for v in contract.version_list if v not in handler]
    unknown = [v for v in handler if v not in contract.versions]
    if missing or unknown:
        raise HandlerConfigError(
            "handler",
            missing or unknown,
            f"handler versions must match the versions {contract.version_list} of "
            f"{contract.uri}: missing {missing}, unknown {unknown}",
        )
