"""The PostgreSQL server the PG workloads use, and the schema cleanup they share.

The server is ``ARVO_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

DSN = os.environ.get("ARVO_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/test"


def drop_schema(schema: str) -> None:
    """Drop ``schema`` and everything in it (a run's own schema, after the run)."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
