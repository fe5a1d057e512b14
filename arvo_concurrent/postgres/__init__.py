"""Machine memory and a durable broker on PostgreSQL, shared by many processes.

``from arvo_concurrent.postgres import PostgresMachineMemory, PostgresTransport`` (the
``postgres`` extra): the memory, and the transport that makes
``create_concurrent_event_broker(..., transport=PostgresTransport(dsn))`` a broker whose
events live in a queue table that many processes serve. They need psycopg 3 and
psycopg_pool (``pip install 'arvo-concurrent[postgres]'``). Importing
``arvo_concurrent`` alone never imports them.
"""

from __future__ import annotations

from arvo_concurrent.postgres.dead_letters import DeadLetter
from arvo_concurrent.postgres.errors import (
    MemoryBackendError,
    OwnerError,
    QueueBackendError,
    QueueEncodingError,
    RemoteHandlerError,
    SchemaError,
    StaleStateError,
    StateEncodingError,
)
from arvo_concurrent.postgres.memory import PostgresMachineMemory
from arvo_concurrent.postgres.queue_schema import QUEUE_VERSION, migrate_queue
from arvo_concurrent.postgres.schema import LATEST_VERSION, migrate
from arvo_concurrent.postgres.transport import PostgresTransport

__all__ = [
    "LATEST_VERSION",
    "QUEUE_VERSION",
    "DeadLetter",
    "MemoryBackendError",
    "OwnerError",
    "PostgresMachineMemory",
    "PostgresTransport",
    "QueueBackendError",
    "QueueEncodingError",
    "RemoteHandlerError",
    "SchemaError",
    "StaleStateError",
    "StateEncodingError",
    "migrate",
    "migrate_queue",
]
