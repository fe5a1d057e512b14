"""Machine memory on PostgreSQL, shared by many processes (the ``postgres`` extra).

``from arvo_concurrent.postgres import PostgresMachineMemory``; it needs psycopg 3 and
psycopg_pool (``pip install 'arvo-concurrent[postgres]'``). Importing
``arvo_concurrent`` alone never imports them.
"""

from __future__ import annotations

from arvo_concurrent.postgres.errors import (
    MemoryBackendError,
    OwnerError,
    SchemaError,
    StaleStateError,
    StateEncodingError,
)
from arvo_concurrent.postgres.memory import PostgresMachineMemory
from arvo_concurrent.postgres.schema import LATEST_VERSION, migrate

__all__ = [
    "LATEST_VERSION",
    "MemoryBackendError",
    "OwnerError",
    "PostgresMachineMemory",
    "SchemaError",
    "StaleStateError",
    "StateEncodingError",
    "migrate",
]
