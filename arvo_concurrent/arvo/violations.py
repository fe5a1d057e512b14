"""Violation errors: the errors a handler *raises* instead of emitting a system error event.

Arvo splits failures in two (docs/arvo-model.md §2.4): a violation (bad contract data, bad
configuration, an execution or a memory transaction problem) is raised out of ``execute()`` so the
broker can retry or report it; every other error becomes a system error event. Violations are
plain exception objects, safe to pass between threads.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from arvo_concurrent.errors import ArvoConcurrentError

__all__ = [
    "ConfigViolation",
    "ContractViolation",
    "ExecutionViolation",
    "TransactionCause",
    "TransactionViolation",
    "ViolationError",
    "is_transaction_violation_error",
    "is_violation_error",
    "violation_for",
]

_V = TypeVar("_V", bound="ViolationError")


class ViolationError(ArvoConcurrentError):
    """Base of all violations.

    Attributes:
        type: the violation kind (``"Contract"``, ``"Config"``, ``"Execution"``...).
        name: ``"ViolationError<type>"``.
        message: ``"ViolationError<type> <message>"`` (also ``str(error)``).
        metadata: extra data about the violation, or None.
        is_arvo_violation_error: always True; :func:`is_violation_error` tests it structurally.
    """

    is_arvo_violation_error = True

    def __init__(self, type: str, message: str, metadata: dict[str, Any] | None = None) -> None:
        self.type = type
        self.name = f"ViolationError<{type}>"
        self.message = f"{self.name} {message}"
        self.metadata = metadata
        super().__init__(self.message)


class ContractViolation(ViolationError):  # noqa: N818  # Arvo's name
    """Input or output data that breaks its contract (schema, dataschema or URI mismatch)."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("Contract", message, metadata)


class ConfigViolation(ViolationError):  # noqa: N818  # Arvo's name
    """A configuration mismatch: wrong event type, unknown version, unresolved contract."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("Config", message, metadata)


class ExecutionViolation(ViolationError):  # noqa: N818  # Arvo's name
    """An execution problem: an invalid subject or ``parentSubject$$``, or raised by user code."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("Execution", message, metadata)


class TransactionCause(StrEnum):
    """Why an orchestrator's machine-memory transaction failed."""

    READ_MACHINE_MEMORY_FAILURE = "READ_MACHINE_MEMORY_FAILURE"
    LOCK_MACHINE_MEMORY_FAILURE = "LOCK_MACHINE_MEMORY_FAILURE"
    WRITE_MACHINE_MEMORY_FAILURE = "WRITE_MACHINE_MEMORY_FAILURE"
    LOCK_UNACQUIRED = "LOCK_UNACQUIRED"
    INVALID_SUBJECT = "INVALID_SUBJECT"


class TransactionViolation(ViolationError):  # noqa: N818  # Arvo's name
    """A machine-memory failure (read, write, lock) around an orchestrator execution.

    Attributes:
        cause: the :class:`TransactionCause`.
        initiating_event: the event whose execution failed, or None (also in
            ``metadata["initiatingEvent"]``).
    """

    def __init__(self, cause: TransactionCause, message: str, initiating_event: Any = None) -> None:
        self.cause = TransactionCause(cause)
        self.initiating_event = initiating_event
        super().__init__(
            "OrchestratorTransaction",
            f"[{self.cause.value}] {message}",
            {"initiatingEvent": initiating_event},
        )


def violation_for(kind: Callable[[str, dict[str, Any]], _V], message: str, event: Any) -> _V:
    """A ``kind`` violation about ``event``: ``message (event id=...)``, event in the metadata."""
    return kind(f"{message} (event id={event.id!r})", {"initiatingEvent": event})


def is_violation_error(error: object) -> bool:
    """True for any violation, tested structurally as arvo-core does (flag, type, name, message)."""
    return (
        isinstance(error, BaseException)
        and getattr(error, "is_arvo_violation_error", False) is True
        and bool(getattr(error, "type", None))
        and bool(getattr(error, "name", None))
        and bool(getattr(error, "message", None))
    )


def is_transaction_violation_error(error: object, cause: TransactionCause | None = None) -> bool:
    """True for a :class:`TransactionViolation`, optionally only for the given ``cause``."""
    if not is_violation_error(error) or getattr(error, "type", None) != "OrchestratorTransaction":
        return False
    return cause is None or getattr(error, "cause", None) == cause
