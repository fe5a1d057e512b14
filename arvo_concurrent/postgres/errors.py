"""Errors raised only by the PostgreSQL memory; the shared ones live in ``memory.errors``."""

from __future__ import annotations

from arvo_concurrent.errors import ArvoConcurrentError
from arvo_concurrent.memory.errors import FencingError, MemoryDataError

__all__ = [
    "MemoryBackendError",
    "OwnerError",
    "QueueBackendError",
    "QueueEncodingError",
    "RemoteHandlerError",
    "SchemaError",
    "StaleStateError",
    "StateEncodingError",
]


class MemoryBackendError(ArvoConcurrentError, ConnectionError):
    """The database failed an operation (lost connection, pool timeout, server error).

    The operation may or may not have taken effect; the original psycopg error is the
    ``__cause__``.

    Attributes:
        machine_id: the id of the operation, or None for operations on every id.
        operation: the operation that failed (``"lock"``, ``"write"``...).
    """

    def __init__(self, machine_id: str | None, operation: str, detail: str) -> None:
        target = "every machine" if machine_id is None else f"machine {machine_id!r}"
        super().__init__(f"PostgreSQL failed the {operation} of {target}: {detail}")
        self.machine_id = machine_id
        self.operation = operation


class OwnerError(ArvoConcurrentError, TypeError):
    """A lock owner was given that is not a non-empty ``str``.

    Owners are stored in the database and compared there, across processes, so they
    must be text; the default owner (the calling thread) is made unique per process.

    Attributes:
        owner: the value that was refused.
    """

    def __init__(self, owner: object) -> None:
        super().__init__(
            f"A PostgreSQL memory lock owner must be a non-empty str, "
            f"got {type(owner).__name__} {owner!r:.80}"
        )
        self.owner = owner


class SchemaError(ArvoConcurrentError, RuntimeError):
    """The memory's tables are missing or older than this library (run ``migrate()``).

    Attributes:
        schema: the schema that was checked.
        found: the migration version found (0 when there are no tables).
        needed: the version this library needs.
    """

    def __init__(self, schema: str, found: int, needed: int) -> None:
        super().__init__(
            f"Schema {schema!r} is at migration {found}, this library needs {needed}: "
            f"run migrate() or construct the memory with create_schema=True"
        )
        self.schema = schema
        self.found = found
        self.needed = needed


class StateEncodingError(MemoryDataError):
    """A state holds a value that JSON (``jsonb``) cannot carry back exactly.

    Attributes:
        machine_id: the id of the refused write.
        data: the state that was refused.
        path: where the value sits, as ``data['a'][0]``.
    """

    def __init__(self, machine_id: str, data: object, path: str, reason: str) -> None:
        # MemoryDataError's own message is about non-dict states: give this one's.
        ArvoConcurrentError.__init__(
            self,
            f"The state written to machine {machine_id!r} cannot be stored as JSON: "
            f"{path} {reason}. Nothing was stored.",
        )
        self.machine_id = machine_id
        self.data = data
        self.path = path


class StaleStateError(FencingError):
    """A write without a lock, made with ``prev_data``, found the state changed since.

    The compare-and-set of a handler that does not lock: the stored state no longer
    equals the ``prev_data`` the writer read (another writer got there first, or the
    state was cleaned up). Nothing was stored; rereading and retrying is safe.
    """

    def __init__(self, machine_id: str, owner: object) -> None:
        ArvoConcurrentError.__init__(
            self,
            f"Write to machine {machine_id!r} refused: the stored state is no longer the "
            f"prev_data the writer {owner!r} read. Nothing was stored.",
        )
        self.machine_id = machine_id
        self.owner = owner
        self.holder = None
        self.fence = 0


class QueueBackendError(ArvoConcurrentError, ConnectionError):
    """The database failed a broker queue operation (lost connection, server error).

    The operation may or may not have taken effect (delivery is at least once: an
    event whose settling failed runs again after its lease); the psycopg error is the
    ``__cause__``.

    Attributes:
        operation: what failed (``"publish"``, ``"claim"``, ``"settle"``...).
        event: the event it was about, or None.
    """

    def __init__(self, operation: str, detail: str, event: object = None) -> None:
        about = "" if event is None else f" of event {getattr(event, 'id', event)!r}"
        super().__init__(f"PostgreSQL failed the queue's {operation}{about}: {detail}")
        self.operation = operation
        self.event = event


class QueueEncodingError(ArvoConcurrentError, TypeError):
    """An event the PostgreSQL broker cannot carry: it stores ArvoEvents as their JSON.

    Attributes:
        event: the event that was refused (or the stored text that did not decode).
    """

    def __init__(self, event: object, reason: str) -> None:
        super().__init__(f"The PostgreSQL broker cannot carry {event!r:.200}: {reason}")
        self.event = event


class RemoteHandlerError(ArvoConcurrentError, RuntimeError):
    """An error reported for an event of a lineage in another process (or this one).

    What ``resolve()`` over PostgreSQL records in ``ResolveError.errors``, since the
    original exception object stayed where it was raised: its class name and message.

    Attributes:
        error_type: the qualified class name of the original error.
        detail: its message.
        event: the event it was about (decoded), or None when it had none.
    """

    def __init__(self, error_type: str, detail: str, event: object) -> None:
        super().__init__(f"{error_type}: {detail}")
        self.error_type = error_type
        self.detail = detail
        self.event = event
