"""Fixtures of the PostgreSQL tests, imported by the conftests that need them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from arvo_concurrent.postgres import PostgresMachineMemory
from tests.postgres.support import own_schema, pg_dsn, pg_memory, require_server


@pytest.fixture(scope="session")
def dsn() -> str:
    value = pg_dsn()
    require_server(value)
    return value


@pytest.fixture(scope="session")
def schema(dsn: str) -> Iterator[str]:
    with own_schema(dsn) as name:
        yield name


MemoryFactory = Callable[..., AbstractContextManager[PostgresMachineMemory]]


@pytest.fixture
def make_memory(dsn: str, schema: str) -> MemoryFactory:
    """Open memories on the session's schema, emptied before the test."""

    def make(**settings: Any) -> AbstractContextManager[PostgresMachineMemory]:
        return pg_memory(dsn, schema, **settings)

    with make() as memory:
        memory.clear()
    return make
