"""What only the PostgreSQL memory has: JSON round trips, compare-and-set, fences kept
after cleanup, owners as text, migrations, setup errors, and what importing costs."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from arvo_concurrent.errors import ArvoConcurrentError, ClosedError
from arvo_concurrent.memory import FencingError, MemoryConfigError, MemoryDataError
from arvo_concurrent.postgres import (
    LATEST_VERSION,
    MemoryBackendError,
    OwnerError,
    PostgresMachineMemory,
    SchemaError,
    StaleStateError,
    StateEncodingError,
    migrate,
)
from arvo_concurrent.postgres.wakeups import key_for
from tests.postgres.fixtures import MemoryFactory
from tests.postgres.support import own_schema


def test_importing_the_package_does_not_import_psycopg() -> None:
    code = "import sys, arvo_concurrent; print('psycopg' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "False"


def test_json_values_round_trip_with_their_types(make_memory: MemoryFactory) -> None:
    state = {
        "text": 'é ü 漢字 \U0001f600 "quoted" \\ /',
        "ints": [0, -1, 2**70, -(2**63)],
        "floats": [0.1, 1.0, -2.5, 1e-7, 0.30000000000000004, 9.999999999999998e15],
        "flags": [True, False, None],
        "nested": {"": {"deep": [[], {}]}},
    }
    with make_memory() as memory:
        memory.write("wf", state)
        got = memory.read("wf")
    assert got == state
    assert [type(x) for x in got["floats"]] == [float] * 6
    assert [type(x) for x in got["ints"]] == [int] * 4
    assert got["flags"][0] is True


@pytest.mark.parametrize(
    ("value", "where", "reason"),
    [
        ({"t": (1, 2)}, "data['t']", "is a tuple"),
        ({"n": float("nan")}, "data['n']", "is nan"),
        ({"n": [float("inf")]}, "data['n'][0]", "is inf"),
        ({"big": 1e16}, "data['big']", "would read back as an int"),
        ({"s": "a\x00b"}, "data['s']", "U+0000"),
        ({"k": {1: "x"}}, "data['k']", "int key"),
        ({"b": b"bytes"}, "data['b']", "is a bytes"),
    ],
)
def test_values_json_cannot_carry_back_are_refused_naming_where(
    make_memory: MemoryFactory, value: dict[str, Any], where: str, reason: str
) -> None:
    with make_memory() as memory:
        with pytest.raises(StateEncodingError) as caught:
            memory.write("wf", value)
        assert memory.read("wf") is None
    error = caught.value
    assert isinstance(error, MemoryDataError)
    assert (error.machine_id, error.path) == ("wf", where)
    assert reason in str(error)
    assert "Nothing was stored" in str(error)


def test_a_write_without_a_lock_given_prev_data_is_a_compare_and_set(
    make_memory: MemoryFactory,
) -> None:
    with make_memory() as memory:
        memory.write("wf", {"count": 0})
        seen = memory.read("wf")
        memory.write("wf", {"count": 1}, prev_data=seen)  # unchanged since: stored
        with pytest.raises(StaleStateError) as caught:
            memory.write("wf", {"count": 1}, prev_data=seen, owner="late")  # changed since
        assert isinstance(caught.value, FencingError)
        assert caught.value.owner == "late"
        assert memory.read("wf") == {"count": 1}


def test_concurrent_compare_and_set_writers_lose_no_update(make_memory: MemoryFactory) -> None:
    threads, times = 4, 25
    with make_memory() as memory:
        memory.write("wf", {"count": 0})
        start = threading.Barrier(threads)
        stale: list[int] = []

        def work() -> None:
            start.wait()
            done = misses = 0
            while done < times:
                seen = memory.read("wf")
                assert seen is not None
                try:
                    memory.write("wf", {"count": seen["count"] + 1}, prev_data=seen)
                    done += 1
                except StaleStateError:
                    misses += 1
            stale.append(misses)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=50)
        assert len(stale) == threads
        assert memory.read("wf") == {"count": threads * times}


def test_an_owner_must_be_a_non_empty_str(make_memory: MemoryFactory) -> None:
    with make_memory() as memory:
        for bad in (object(), 7, ""):
            with pytest.raises(OwnerError) as caught:
                memory.lock("wf", owner=bad)
            assert caught.value.owner is bad
            assert isinstance(caught.value, ArvoConcurrentError)


def test_the_default_owner_differs_between_threads_and_memories_share_locks(
    make_memory: MemoryFactory,
) -> None:
    with make_memory(lock_max_retries=0) as first, make_memory(lock_max_retries=0) as second:
        assert first.lock("wf")
        assert second.lock("wf") is True  # same thread: renewal, from another memory
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(second.lock("wf")))
        thread.start()
        thread.join()
        assert result == [False]
        assert first.unlock("wf")


def test_a_waiter_in_another_memory_is_woken_by_the_unlock_notification(
    make_memory: MemoryFactory,
) -> None:
    # A budget far beyond the test and a lease that outlives it: only NOTIFY can wake it.
    settings = {"lock_max_retries": 1, "lock_initial_delay_ms": 60_000, "lock_ttl_ms": 60_000}
    with make_memory(**settings) as holder, make_memory(**settings) as waiter:
        assert holder.lock("wf", owner="h")
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(waiter.lock("wf", owner="w")))
        thread.start()
        holder.write("wf", {"v": 1}, owner="h")
        assert holder.unlock("wf", owner="h")
        thread.join(timeout=30)
        assert result == [True]
        assert waiter.read("wf") == {"v": 1}


def test_close_ends_a_waiting_lock_with_closed_error(make_memory: MemoryFactory) -> None:
    settings = {"lock_max_retries": 1, "lock_initial_delay_ms": 60_000, "lock_ttl_ms": 60_000}
    with make_memory(**settings) as holder:
        assert holder.lock("wf", owner="h")
        memory = make_memory(**settings).__enter__()
        errors: list[BaseException] = []

        def wait(owner: str) -> None:
            try:
                memory.lock("wf", owner=owner)
            except ClosedError as error:
                errors.append(error)

        threads = [threading.Thread(target=wait, args=(f"w{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        memory.close()
        for thread in threads:
            thread.join(timeout=30)
        assert len(errors) == 3
        assert holder.unlock("wf", owner="h")


def test_metadata_fills_the_state_columns(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    metadata = {"subject": "s", "parent_subject": None, "initiator": "i", "source": "src"}
    with make_memory() as memory:
        memory.write("wf", {"v": 1}, None, metadata)
        memory.write("wf", {"v": 2})
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT subject, parent_subject, initiator, source, version"
                " FROM {}.machine_state WHERE id = 'wf'"
            ).format(sql.Identifier(schema))
        ).fetchone()
    assert row == ("s", None, "i", "src", 2)


def test_migrate_is_idempotent_and_safe_from_several_connections_at_once(dsn: str) -> None:
    with own_schema(dsn) as name:
        applied: list[list[int]] = []
        start = threading.Barrier(4)

        def run() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                start.wait()
                applied.append(migrate(conn, name))

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(applied) == [[], [], [], list(range(1, LATEST_VERSION + 1))]
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert migrate(conn, name) == []


def test_without_create_schema_missing_tables_are_reported(dsn: str) -> None:
    with own_schema(dsn) as name:
        with pytest.raises(SchemaError) as caught:
            PostgresMachineMemory(dsn, schema=name, create_schema=False)
        assert (caught.value.schema, caught.value.found) == (name, 0)


def test_an_unreachable_server_fails_at_construction() -> None:
    with pytest.raises(MemoryBackendError) as caught:
        PostgresMachineMemory("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    assert caught.value.operation == "connect"
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)


@pytest.mark.parametrize(
    ("settings", "parameter"),
    [
        ({}, "conninfo"),
        ({"conninfo": "x", "pool": "y"}, "conninfo"),
        ({"conninfo": "x", "schema": ""}, "schema"),
        ({"conninfo": "x", "max_connections": 0}, "max_connections"),
        ({"conninfo": "x", "lock_ttl_ms": 0}, "lock_ttl_ms"),
    ],
)
def test_bad_settings_are_refused_naming_the_parameter(
    settings: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(MemoryConfigError) as caught:
        PostgresMachineMemory(**settings)
    assert caught.value.parameter == parameter


def test_a_shared_pool_is_used_and_left_open(dsn: str, schema: str) -> None:
    with ConnectionPool(dsn, min_size=1, max_size=2, open=True) as pool:
        with PostgresMachineMemory(pool=pool, schema=schema) as memory:
            memory.write("shared", {"v": 1})
            assert memory.read("shared") == {"v": 1}
        assert not pool.closed
        with pool.connection() as conn:
            conn.execute("SELECT 1")


def _queued(dsn: str, schema: str, machine_id: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT owner FROM {} WHERE id = %s ORDER BY ticket").format(
                sql.Identifier(schema, "machine_waiter")
            ),
            (machine_id,),
        ).fetchall()
    return [row[0] for row in rows]


def test_an_unlock_hands_the_lease_to_the_queued_request_not_to_a_newcomer(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    patient = {"lock_max_retries": 1, "lock_initial_delay_ms": 60_000, "lock_ttl_ms": 60_000}
    with (
        make_memory(**patient) as holder,
        make_memory(**patient) as waiting,
        make_memory(lock_max_retries=0) as newcomer,
    ):
        assert holder.lock("wf", owner="h")
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(waiting.lock("wf", owner="w")))
        thread.start()
        while _queued(dsn, schema, "wf") != ["w"]:  # a bounded poll: the test's timeout
            threading.Event().wait(0.005)
        assert holder.unlock("wf", owner="h")
        assert newcomer.lock("wf", owner="n") is False  # handed to w, never free
        thread.join(timeout=30)
        assert result == [True]
        assert _queued(dsn, schema, "wf") == []
        assert waiting.unlock("wf", owner="w")


def test_a_lease_handed_to_a_dead_waiter_lapses_after_the_claim_window(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, ticket, owner, ttl_ms, expires_at)"
                " VALUES ('wf', 0, 'dead', 60000, clock_timestamp() + interval '1 minute')"
            ).format(sql.Identifier(schema, "machine_waiter"))
        )
    settings = {"lock_max_retries": 1, "lock_initial_delay_ms": 20_000, "lock_ttl_ms": 60_000}
    with make_memory(**settings) as memory:
        assert memory.lock("wf", owner="h")
        assert memory.unlock("wf", owner="h")  # handed to the dead waiter
        assert _queued(dsn, schema, "wf") == []
        assert memory.lock("wf", owner="next") is True  # once its claim window lapsed


def test_a_waiter_is_still_woken_after_the_listening_connection_broke(
    dsn: str, make_memory: MemoryFactory
) -> None:
    patient = {"lock_max_retries": 1, "lock_initial_delay_ms": 60_000, "lock_ttl_ms": 60_000}
    with make_memory(**patient) as holder, make_memory(**patient) as waiting:
        listener = waiting._wakeups._conn.info.backend_pid
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (listener,))
        # A bounded poll (the test's timeout): the listener reconnects on its own.
        while waiting._wakeups._conn.closed or (
            waiting._wakeups._conn.info.backend_pid == listener
        ):
            threading.Event().wait(0.01)
        assert holder.lock("wf", owner="h")
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(waiting.lock("wf", owner="w")))
        thread.start()
        assert holder.unlock("wf", owner="h")
        thread.join(timeout=30)
        assert result == [True]


def test_without_the_local_queue_every_thread_waits_in_the_database_and_loses_nothing(
    make_memory: MemoryFactory,
) -> None:
    threads, times = 6, 30
    settings = {"lock_max_retries": 10, "lock_initial_delay_ms": 100, "queue_locally": False}
    with make_memory(**settings) as memory:
        start = threading.Barrier(threads)
        refused: list[int] = []

        def work() -> None:
            start.wait()
            misses = 0
            for _ in range(times):
                if not memory.lock("counter"):
                    misses += 1
                    continue
                state = memory.read("counter") or {"count": 0}
                memory.write("counter", {"count": state["count"] + 1})
                assert memory.unlock("counter")
            refused.append(misses)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=50)
        assert refused == [0] * threads
        assert memory.read("counter") == {"count": threads * times}


def test_lock_and_read_takes_the_lock_and_brings_the_state_back(
    make_memory: MemoryFactory,
) -> None:
    with make_memory(lock_max_retries=0) as memory, make_memory(lock_max_retries=0) as other:
        assert memory.lock_and_read("new", owner="a") == (True, None)
        memory.write("new", {"step": 1}, owner="a")
        assert memory.unlock("new", owner="a")
        assert memory.lock_and_read("new", owner="a") == (True, {"step": 1})
        # Held: refused, and nothing read.
        assert other.lock_and_read("new", owner="b") == (False, None)
        with pytest.raises(FencingError):
            other.write("new", {"step": 2}, owner="b")
        assert memory.unlock("new", owner="a")
        assert other.lock_and_read("new", owner="b") == (True, {"step": 1})
        assert other.unlock("new", owner="b")


def test_lock_and_read_reads_again_when_a_writer_held_the_lease_row(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    # The lock waits for the writer's row lock with a snapshot older than its write:
    # the state it saw must not stand for the read.
    with make_memory() as memory:
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": 1}, owner="a")
        assert memory.unlock("wf", owner="a")
        names = {"lease": sql.Identifier(schema, "machine_lease")}
        with psycopg.connect(dsn) as writer:
            writer.execute(
                sql.SQL("SELECT 1 FROM {lease} WHERE id = 'wf' FOR SHARE").format(**names)
            )
            writer.execute(
                sql.SQL("UPDATE {} SET data = '{{\"v\": 2}}' WHERE id = 'wf'").format(
                    sql.Identifier(schema, "machine_state")
                )
            )
            result: list[tuple[bool, Any]] = []
            thread = threading.Thread(
                target=lambda: result.append(memory.lock_and_read("wf", owner="b"))
            )
            thread.start()
            while not _waiting_on_a_row_lock(dsn, schema):  # a bounded poll: the test's timeout
                threading.Event().wait(0.005)
            writer.commit()
        thread.join(timeout=30)
        assert result == [(True, {"v": 2})]
        assert memory.unlock("wf", owner="b")


def _waiting_on_a_row_lock(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s",
            (f'%"{schema}"."machine_lease"%',),
        ).fetchone()
    return bool(row and row[0])


def _spy_wakes(memory: PostgresMachineMemory, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys ``memory``'s unlocks wake locally (not its listener's NOTIFY wake-ups)."""
    woken: list[str] = []
    wake = memory._wakeups.wake

    def record(key: str) -> None:
        if threading.current_thread().name != "arvo-pg-listener":
            woken.append(key)
        wake(key)

    monkeypatch.setattr(memory._wakeups, "wake", record)
    return woken


def _signal_when_queued(
    memory: PostgresMachineMemory, monkeypatch: pytest.MonkeyPatch
) -> threading.Event:
    """An event set once a lock request of ``memory`` was refused and queued."""
    queued = threading.Event()
    try_lock = memory._try_lock

    def spy(params: dict[str, Any], statement: bytes) -> tuple[Any, ...]:
        row = try_lock(params, statement)
        if row[0] is None and row[3] is not None:
            queued.set()
        return row

    monkeypatch.setattr(memory, "_try_lock", spy)
    return queued


def _start_queued(
    memory: PostgresMachineMemory, request: Callable[[], object], monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Thread, list[Any], threading.Event]:
    """Run ``request`` (a lock call on ``memory``) on a thread; return once it is queued.

    Returns the thread, the list its answer goes to, and the "queued" event (set again
    by every later refused try).
    """
    queued = _signal_when_queued(memory, monkeypatch)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(request()))
    thread.start()
    assert queued.wait(timeout=30)
    return thread, result, queued


# A budget far beyond the test and a lease that outlives it: only a wake-up ends a wait.
_PATIENT = {"lock_max_retries": 1, "lock_initial_delay_ms": 60_000, "lock_ttl_ms": 60_000}


def test_an_unlock_wakes_local_waiters_only_when_one_of_them_can_take_the_lease(
    make_memory: MemoryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_memory(**_PATIENT) as here, make_memory(**_PATIENT) as there:
        woken_here = _spy_wakes(here, monkeypatch)
        # Handed to a request of another memory (process): no local wake-up here.
        assert here.lock("wf", owner="h")
        thread, result, _ = _start_queued(there, lambda: there.lock("wf", owner="t"), monkeypatch)
        assert here.unlock("wf", owner="h")
        thread.join(timeout=30)
        assert result == [True]
        assert woken_here == []
        # Handed to a request of this memory: woken at once.
        thread, result, _ = _start_queued(here, lambda: here.lock("wf", owner="h2"), monkeypatch)
        assert there.unlock("wf", owner="t")
        thread.join(timeout=30)
        assert result == [True]
        # Released free: woken at once.
        assert here.unlock("wf", owner="h2")
        assert woken_here == [key_for("wf")]


def test_write_and_unlock_hands_the_lease_and_the_state_to_the_waiter(
    make_memory: MemoryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_memory(**_PATIENT) as holder, make_memory(**_PATIENT) as waiter:
        assert holder.lock_and_read("wf", owner="h") == (True, None)
        request = functools.partial(waiter.lock_and_read, "wf", owner="w")
        thread, result, _ = _start_queued(waiter, request, monkeypatch)
        assert holder.write_and_unlock("wf", {"v": 1}, {"subject": "s"}, owner="h")
        thread.join(timeout=30)
        assert result == [(True, {"v": 1})]
        with pytest.raises(FencingError):  # released: h writes as a lockless writer
            holder.write("wf", {"v": 9}, owner="h")
        assert waiter.write_and_unlock("wf", {"v": 2}, owner="w")
        assert holder.lock_and_read("wf", owner="h") == (True, {"v": 2})
        assert holder.unlock("wf", owner="h")


def test_write_and_unlock_under_a_stale_lease_stores_nothing_and_releases_nothing(
    make_memory: MemoryFactory,
) -> None:
    with make_memory(enable_cleanup=True, lock_max_retries=0) as memory:
        assert memory.lock("wf", owner="a")
        memory.cleanup("wf", owner="c")  # drops a's lease; its fence is kept
        assert memory.lock("wf", owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write_and_unlock("wf", {"v": 1}, owner="a")
        assert caught.value.holder == "b"
        assert memory.read("wf") is None
        assert memory.lock("wf", owner="x") is False  # b still holds it
        assert memory.write_and_unlock("wf", {"v": 2}, owner="b")
        assert memory.read("wf") == {"v": 2}
        assert memory.lock("wf", owner="x")
        assert memory.unlock("wf", owner="x")


def test_write_and_unlock_without_a_lease_or_with_bad_data_is_write_then_unlock(
    make_memory: MemoryFactory,
) -> None:
    with make_memory(lock_max_retries=0) as memory:
        assert memory.write_and_unlock("free", {"v": 1}, owner="a")  # a lockless write
        assert memory.read("free") == {"v": 1}
        assert memory.lock("wf", owner="a")
        with pytest.raises(MemoryDataError):
            memory.write_and_unlock("wf", [1], owner="a")  # type: ignore[arg-type]
        assert memory.lock("wf", owner="a")
        with pytest.raises(StateEncodingError):
            memory.write_and_unlock("wf", {"t": (1, 2)}, owner="a")
        assert memory.lock("wf", owner="b")  # released both times
        assert memory.read("wf") is None
        assert memory.unlock("wf", owner="b")


def test_a_refused_try_does_not_wait_for_the_lease_row_lock(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    # A refusal reads the lease; only a try that may be granted locks its row.
    with make_memory(lock_max_retries=0) as memory:
        assert memory.lock("wf", owner="a")
        lease = sql.Identifier(schema, "machine_lease")
        with psycopg.connect(dsn) as other:
            other.execute(sql.SQL("SELECT 1 FROM {} WHERE id = 'wf' FOR UPDATE").format(lease))
            result: list[bool] = []
            thread = threading.Thread(target=lambda: result.append(memory.lock("wf", owner="b")))
            thread.start()
            thread.join(timeout=30)
            refused_while_locked = list(result)
            other.commit()
        thread.join(timeout=30)
        assert refused_while_locked == [False]
        assert memory.unlock("wf", owner="a")


def test_a_queued_request_trying_again_leaves_its_queue_row_alone(
    dsn: str, schema: str, make_memory: MemoryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiter_table = sql.Identifier(schema, "machine_waiter")

    def queue_rows() -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            query = sql.SQL("SELECT ticket, xmin::text FROM {} WHERE id = 'wf'")
            return conn.execute(query.format(waiter_table)).fetchall()

    with make_memory(**_PATIENT) as holder, make_memory(**_PATIENT) as waiter:
        assert holder.lock("wf", owner="h")
        thread, result, queued = _start_queued(
            waiter, lambda: waiter.lock("wf", owner="w"), monkeypatch
        )
        joined = queue_rows()
        queued.clear()
        waiter._wakeups.wake(key_for("wf"))  # a try again, refused: the lease is in force
        assert queued.wait(timeout=30)
        assert queue_rows() == joined  # same ticket, same row version
        assert len(joined) == 1
        assert holder.unlock("wf", owner="h")
        thread.join(timeout=30)
        assert result == [True]
        assert queue_rows() == []
