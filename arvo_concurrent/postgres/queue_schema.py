"""The broker queue's tables, created and upgraded by numbered migrations.

Kept apart from the memory's (their own ledger, ``<schema>.queue_migrations``), so a
service may use the memory without the queue and the other way round; both may share
one schema, which is what the transactional outbox needs.
"""

from __future__ import annotations

from typing import Any

import psycopg

from arvo_concurrent.postgres.errors import SchemaError
from arvo_concurrent.postgres.schema import apply_migrations, ledger_version

__all__ = ["QUEUE_VERSION", "check_queue_schema", "migrate_queue"]

_LEDGER = "queue_migrations"

_MIGRATIONS: tuple[str, ...] = (
    # 1: the events, the lineages that resolve() waits for, the consumed event ids.
    """
    CREATE TABLE {schema}.queue_event (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        -- The event's JSON as text: it is only ever decoded by a client, so the server
        -- need not parse it (jsonb would cost every insert a parse).
        event text NOT NULL,
        event_id text NOT NULL,
        event_source text NOT NULL,
        status text NOT NULL DEFAULT 'ready'
            CHECK (status IN ('ready', 'running', 'done', 'dead')),
        attempts int NOT NULL DEFAULT 0,
        run_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        locked_until timestamptz,
        locked_by text,
        lineage_id text,
        reply_to text,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX queue_event_ready ON {schema}.queue_event (topic, run_at, id)
        WHERE status = 'ready';
    CREATE INDEX queue_event_running ON {schema}.queue_event (locked_until)
        WHERE status = 'running';
    CREATE INDEX queue_event_dead ON {schema}.queue_event (id) WHERE status = 'dead';
    -- A resolve() in flight: its events not yet settled, the final event routed back to
    -- its source, the errors reported for its events. Deleted once collected.
    CREATE TABLE {schema}.queue_lineage (
        id text PRIMARY KEY,
        pending int NOT NULL,
        final text,
        errors jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    -- Events that took effect, by the handler's topic, the event's source and its id:
    -- a second delivery of one of them is skipped (the dedup key), within the retention.
    CREATE TABLE {schema}.queue_consumed (
        topic text NOT NULL,
        event_source text NOT NULL,
        event_id text NOT NULL,
        consumed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (topic, event_source, event_id)
    );
    """,
    # 2: what keeps the in-process rules over the queue: events dropped unrun ('dropped':
    # their resolve was abandoned), the lineage's events counted against max_hops and its
    # abandonment, and the topics each process serves (for the routing check).
    """
    ALTER TABLE {schema}.queue_event DROP CONSTRAINT queue_event_status_check,
        ADD CONSTRAINT queue_event_status_check
            CHECK (status IN ('ready', 'running', 'done', 'dead', 'dropped'));
    ALTER TABLE {schema}.queue_lineage
        ADD COLUMN events int NOT NULL DEFAULT 1,
        ADD COLUMN abandoned boolean NOT NULL DEFAULT false;
    -- A process's subscription, renewed with its leases: a topic is served while a row of
    -- it was seen within the last lease period.
    CREATE TABLE {schema}.queue_subscription (
        topic text NOT NULL,
        worker text NOT NULL,
        seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (topic, worker)
    );
    """,
)

QUEUE_VERSION = len(_MIGRATIONS)
"""The queue migration this library needs."""


def migrate_queue(conn: psycopg.Connection[Any], schema: str = "arvo") -> list[int]:
    """Create or upgrade the broker queue's tables in ``schema``; idempotent.

    Safe to run from several processes at once. Blocks for a few round trips (and while
    another process migrates). Commits its own transaction: ``conn`` must not be in one.

    Returns:
        The migration numbers applied now (empty when the schema was up to date).
    """
    return apply_migrations(conn, schema, _LEDGER, _MIGRATIONS)


def check_queue_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Raise unless ``schema`` holds the queue's tables at :data:`QUEUE_VERSION`.

    Raises:
        SchemaError: the tables are missing or older.
    """
    found = ledger_version(conn, schema, _LEDGER)
    if found < QUEUE_VERSION:
        raise SchemaError(schema, found, QUEUE_VERSION)
