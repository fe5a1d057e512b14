"""One behavioural suite, run against every memory backend.

``backend`` is parametrised: ``in-process`` (ConcurrentMachineMemory) and ``postgres``
(PostgresMachineMemory on a schema of this session). ``open_memory(**settings)`` opens
a memory of the test's backend with the given settings; ``enable_cleanup`` defaults
to True for both (their own defaults differ).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from arvo_concurrent.memory import ConcurrentMachineMemory
from tests.postgres.fixtures import dsn, schema
from tests.postgres.support import pg_memory

__all__ = ["dsn", "schema"]

OpenMemory = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(params=["in-process", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def open_memory(backend: str, request: pytest.FixtureRequest) -> Iterator[OpenMemory]:
    if backend == "in-process":

        @contextmanager
        def make(**settings: Any) -> Iterator[Any]:
            settings.setdefault("enable_cleanup", True)
            with ConcurrentMachineMemory(**settings) as memory:
                yield memory

        yield make
        return
    dsn_value: str = request.getfixturevalue("dsn")
    schema_value: str = request.getfixturevalue("schema")

    @contextmanager
    def make_pg(**settings: Any) -> Iterator[Any]:
        settings.setdefault("enable_cleanup", True)
        with pg_memory(dsn_value, schema_value, **settings) as memory:
            yield memory

    with make_pg() as memory:
        memory.clear()
    yield make_pg
