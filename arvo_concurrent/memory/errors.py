"""Errors raised by the machine memory.

Each one derives from :class:`~arvo_concurrent.errors.ArvoConcurrentError` and from the
closest standard exception, and carries the machine id (or parameter) it is about.
"""

from __future__ import annotations

from arvo_concurrent.errors import ArgumentError, ArvoConcurrentError, WaitTimeoutError

__all__ = [
    "FencingError",
    "MachineIdError",
    "MemoryConfigError",
    "MemoryDataError",
    "MemoryTimeoutError",
]


class MachineIdError(ArvoConcurrentError, ValueError):
    """A machine id was empty or not a string.

    Attributes:
        operation: the operation that was refused (``"read"``, ``"write"``, ``"lock"``...).
        machine_id: the value that was passed as the id.
    """

    def __init__(self, operation: str, machine_id: object) -> None:
        if isinstance(machine_id, str) or machine_id is None:
            message = f"Machine ID is required for {operation} operation"
        else:
            message = (
                f"Machine ID must be a str for {operation} operation, "
                f"got {type(machine_id).__name__} {machine_id!r}"
            )
        super().__init__(message)
        self.operation = operation
        self.machine_id = machine_id


class MemoryConfigError(ArgumentError):
    """A ``ConcurrentMachineMemory`` parameter had a bad value (a ValueError).

    Attributes:
        parameter: the parameter's name (``"lock_ttl_ms"``...), also ``name``.
        value: the value that was refused.
    """

    def __init__(self, parameter: str, value: object, requirement: str) -> None:
        super().__init__(f"{parameter} must be {requirement}, got {value!r}", parameter, value)
        self.parameter = parameter


class MemoryDataError(ArvoConcurrentError, TypeError):
    """A state to write was not a dict.

    Attributes:
        machine_id: the id of the refused write.
        data: the value that was refused.
    """

    def __init__(self, machine_id: str, data: object) -> None:
        super().__init__(
            f"The state written to machine {machine_id!r} must be a dict, "
            f"got {type(data).__name__} {data!r:.80}"
        )
        self.machine_id = machine_id
        self.data = data


class FencingError(ArvoConcurrentError, RuntimeError):
    """A write was refused because the writer does not hold the latest lease on the machine.

    This is the lost-update case: the writer's lease expired (or was dropped by a
    cleanup) and a later lease was granted to someone else, whether or not that one
    is still held; or the writer never locked an id that someone else has locked.
    Nothing was stored.

    Attributes:
        machine_id: the id whose write was refused.
        owner: the writer.
        holder: the owner of the lease in force, or None when the later lease has
            already been released or has expired.
        fence: the fencing number of the latest lease granted on the id.
    """

    def __init__(self, machine_id: str, owner: object, holder: object, fence: int) -> None:
        if holder is None:
            reason = (
                f"the writer {owner!r} wrote under a lease that is no longer the latest "
                f"(lease #{fence} was granted since, and has ended)"
            )
        else:
            reason = (
                f"its lock is held by {holder!r} (lease #{fence}), not by the writer "
                f"{owner!r}, whose lease expired or was dropped, or who never locked it"
            )
        super().__init__(f"Write to machine {machine_id!r} refused: {reason}. Nothing was stored.")
        self.machine_id = machine_id
        self.owner = owner
        self.holder = holder
        self.fence = fence


class MemoryTimeoutError(WaitTimeoutError):
    """The memory actor did not answer in time (it is overloaded or stuck).

    Attributes:
        machine_id: the id of the operation, or None for operations on every id.
        operation: the operation that timed out.
        timeout_s: how long the caller waited, in seconds (also ``timeout``).
    """

    def __init__(self, machine_id: str | None, operation: str, timeout_s: float) -> None:
        target = "every machine" if machine_id is None else f"machine {machine_id!r}"
        super().__init__(
            f"Machine memory did not answer the {operation} of {target} within {timeout_s:g} s",
            timeout_s,
        )
        self.machine_id = machine_id
        self.operation = operation
        self.timeout_s = timeout_s
