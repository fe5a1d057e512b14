"""The PostgreSQL tests' fixtures: see :mod:`tests.postgres.fixtures`."""

from __future__ import annotations

from tests.postgres.fixtures import dsn, make_memory, schema

__all__ = ["dsn", "make_memory", "schema"]
