"""Fixtures of the PostgreSQL broker tests: the server, and a schema per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres.support import own_schema, pg_dsn, require_server


@pytest.fixture(scope="session")
def dsn() -> str:
    value = pg_dsn()
    require_server(value)
    return value


@pytest.fixture
def schema(dsn: str) -> Iterator[str]:
    """A schema of this test's own, dropped afterwards."""
    with own_schema(dsn) as name:
        yield name
