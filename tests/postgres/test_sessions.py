"""The memory's own pooled connections: two open and set up when the constructor returns,
each statement prepared at its first execution and planned once (generic plans), and a
pool passed by the caller left as it is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from arvo_concurrent.postgres import MemoryBackendError, PostgresMachineMemory
from arvo_concurrent.postgres import memory as memory_module
from arvo_concurrent.postgres.sessions import session_setup
from arvo_concurrent.postgres.statements import Statements
from tests.postgres.fixtures import MemoryFactory

Conn = psycopg.Connection[Any]


@contextmanager
def _every_connection(memory: PostgresMachineMemory) -> Iterator[list[Conn]]:
    """Every connection of the memory's pool (all idle: no operation runs meanwhile)."""
    pool = memory._pool
    conns = [pool.getconn(timeout=30) for _ in range(pool.get_stats()["pool_size"])]
    try:
        yield conns
    finally:
        for conn in conns:
            pool.putconn(conn)


def _plan_mode(conn: Conn) -> str:
    row = conn.execute("SHOW plan_cache_mode", prepare=False).fetchone()
    assert row is not None
    return str(row[0])


def _prepared(conn: Conn) -> list[tuple[str, int, int]]:
    """The statements prepared on ``conn``: (text, generic plans used, custom plans made)."""
    rows = conn.execute(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
        prepare=False,
    ).fetchall()
    return [(str(text), int(generic), int(custom)) for text, generic, custom in rows]


def test_the_memory_is_constructed_with_two_connections_open_and_set_up(
    make_memory: MemoryFactory,
) -> None:
    with make_memory() as memory:
        stats = memory._pool.get_stats()  # no wait: construction waited for them
        assert (stats["pool_size"], stats["pool_available"]) == (2, 2)
        with _every_connection(memory) as conns:
            assert [_plan_mode(conn) for conn in conns] == ["force_generic_plan"] * 2
    with make_memory(max_connections=1) as memory:
        assert memory._pool.get_stats()["pool_size"] == 1


def test_each_statement_is_prepared_at_its_first_execution_and_planned_once(
    make_memory: MemoryFactory,
) -> None:
    with make_memory() as memory:
        # The pool hands its connections out in turn: each runs the read twice.
        for _ in range(4):
            assert memory.read("wf") is None
        with _every_connection(memory) as conns:
            for conn in conns:
                reads = [p for p in _prepared(conn) if "machine_state" in p[0]]
                assert [(generic, custom) for _, generic, custom in reads] == [(2, 0)]


def test_the_session_setup_leaves_the_connection_idle_with_nothing_prepared(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    with make_memory(), psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
        session_setup(Statements.for_schema(schema))(conn)
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert _plan_mode(conn) == "force_generic_plan"
        assert _prepared(conn) == []


def test_a_pool_passed_in_keeps_its_own_settings(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn) as plain:
        default_mode = _plan_mode(plain)
        default_threshold = plain.prepare_threshold
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool:
        with PostgresMachineMemory(pool=pool, schema=schema) as memory:
            memory.write("shared", {"v": 1})
            assert memory.read("shared") == {"v": 1}
        with pool.connection() as conn:
            assert _plan_mode(conn) == default_mode
            assert conn.prepare_threshold == default_threshold


def test_a_pool_that_cannot_open_its_connections_fails_at_construction(
    dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server answers (the listening connection opens) but no pooled connection can
    # be set up: the constructor reports it instead of leaving it to the first request.
    def refusing(statements: Statements) -> Callable[[Conn], None]:
        def configure(conn: Conn) -> None:
            raise psycopg.OperationalError("refused by the test")

        return configure

    monkeypatch.setattr(memory_module, "session_setup", refusing)
    monkeypatch.setattr(memory_module, "_CONNECTION_TIMEOUT_S", 0.5)
    with pytest.raises(MemoryBackendError) as caught:
        PostgresMachineMemory(dsn, schema=schema)
    assert (caught.value.machine_id, caught.value.operation) == (None, "connect")
    assert isinstance(caught.value.__cause__, PoolTimeout)
