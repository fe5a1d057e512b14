"""What the PostgreSQL tests share: the server's DSN, a schema of their own, memories on it.

The DSN comes from ``ARVO_PG_DSN`` (default: the local server every machine of this
project runs). When no server answers there the tests fail, naming the DSN: they never
skip, since a green run without PostgreSQL would test nothing of it.
``scripts/dev.sh test`` starts a server first when none answers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

from arvo_concurrent.postgres import PostgresMachineMemory

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def pg_dsn() -> str:
    """The DSN of the server under test."""
    return os.environ.get("ARVO_PG_DSN") or DEFAULT_DSN


def require_server(dsn: str) -> None:
    """Fail the test (never skip it) when no PostgreSQL answers at ``dsn``."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        pytest.fail(
            f"PostgreSQL is required and did not answer at {dsn!r} (set ARVO_PG_DSN, or run "
            f"`bash scripts/dev.sh test`, which starts one): {error}",
            pytrace=False,
        )


@contextmanager
def own_schema(dsn: str) -> Iterator[str]:
    """A schema name no other run uses; the schema is dropped on the way out."""
    name = f"arvo_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def pg_memory(dsn: str, schema: str, **settings: Any) -> Iterator[PostgresMachineMemory]:
    """A memory on ``schema``, closed on the way out."""
    with PostgresMachineMemory(dsn, schema=schema, **settings) as memory:
        yield memory
