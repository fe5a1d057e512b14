"""The memory's tables, created and upgraded by numbered migrations.

``migrate`` runs every migration the schema lacks, in one transaction, under a
transaction-scoped advisory lock: processes that start together all call it, one
applies the steps and the others then find them applied. Each applied step is a row
of ``<schema>.migrations``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from arvo_concurrent.postgres.errors import SchemaError

__all__ = ["LATEST_VERSION", "apply_migrations", "check_schema", "ledger_version", "migrate"]

# One advisory lock key for every schema: migrations are rare and short.
_MIGRATE_LOCK_KEY = 0x4172766F4D656D  # "ArvoMem"

_MIGRATIONS: tuple[str, ...] = (
    # 1: states, leases, lock waiters and their sequences.
    """
    CREATE SEQUENCE {schema}.lease_fence;
    CREATE TABLE {schema}.machine_state (
        id text PRIMARY KEY,
        data jsonb NOT NULL,
        version bigint NOT NULL DEFAULT 1,
        subject text,
        parent_subject text,
        initiator text,
        source text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    -- A released lease keeps its row (owner and expires_at NULL): the fence of the
    -- latest lease granted on the id must outlive it, so that a write under any older
    -- lease stays refused.
    CREATE TABLE {schema}.machine_lease (
        id text PRIMARY KEY,
        owner text,
        fence bigint NOT NULL,
        expires_at timestamptz,
        CHECK ((owner IS NULL) = (expires_at IS NULL))
    );
    -- The lock requests waiting for an id, oldest ticket first: an unlock hands the
    -- lease to the oldest live one. A row lives until its request is granted or gives
    -- up, at most until expires_at (refreshed at each try), so a dead waiter's row goes.
    CREATE SEQUENCE {schema}.waiter_ticket;
    CREATE TABLE {schema}.machine_waiter (
        id text NOT NULL,
        ticket bigint NOT NULL,
        owner text NOT NULL,
        ttl_ms double precision NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (id, ticket)
    );
    """,
)

LATEST_VERSION = len(_MIGRATIONS)


def migrate(conn: psycopg.Connection[Any], schema: str = "arvo") -> list[int]:
    """Create or upgrade the memory's tables in ``schema``; idempotent.

    Safe to run from several processes at once. Blocks for a few round trips (and while
    another process migrates). Commits its own transaction: ``conn`` must not be in one.

    Returns:
        The migration numbers applied now (empty when the schema was up to date).
    """
    return apply_migrations(conn, schema, "migrations", _MIGRATIONS)


def apply_migrations(
    conn: psycopg.Connection[Any], schema: str, ledger: str, steps: tuple[str, ...]
) -> list[int]:
    """Run the ``steps`` (SQL with ``{schema}``) that ``<schema>.<ledger>`` lacks.

    One transaction under the migration advisory lock; each applied step becomes a row
    of the ledger table. The memory's tables and the broker queue's each keep a ledger.
    """
    names = {"schema": sql.Identifier(schema), "ledger": sql.Identifier(ledger)}
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**names))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{ledger} ("
                " version int PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ).format(**names)
        )
        current = ledger_version(conn, schema, ledger)
        applied = []
        for version in range(current + 1, len(steps) + 1):
            conn.execute(sql.SQL(steps[version - 1]).format(**names))
            conn.execute(
                sql.SQL("INSERT INTO {schema}.{ledger} (version) VALUES (%s)").format(**names),
                (version,),
            )
            applied.append(version)
    return applied


def check_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Raise unless ``schema`` holds the tables this library needs. One round trip.

    Raises:
        SchemaError: the tables are missing or older.
    """
    found = ledger_version(conn, schema, "migrations")
    if found < LATEST_VERSION:
        raise SchemaError(schema, found, LATEST_VERSION)


def ledger_version(conn: psycopg.Connection[Any], schema: str, ledger: str) -> int:
    """The latest step applied according to ``<schema>.<ledger>`` (0: none). Two round trips."""
    row = conn.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", (schema, ledger)
    ).fetchone()
    if row is None or not row[0]:
        return 0
    result = conn.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {schema}.{ledger}").format(
            schema=sql.Identifier(schema), ledger=sql.Identifier(ledger)
        )
    ).fetchone()
    return int(result[0]) if result is not None else 0
