"""The PostgreSQL broker across processes: W4 on two workers, a worker killed mid-event,
two processes resolving at once."""

from __future__ import annotations

import signal
from typing import Any

import psycopg
from psycopg import sql

from arvo_concurrent import create_concurrent_event_broker
from arvo_concurrent.postgres import PostgresMachineMemory, PostgresTransport
from benchmarks.workloads.bench_arvo import sequence_init
from tests.postgres.processes import Worker, workers

_MODULE = "tests.postgres_broker.worker"
_DONE = "arvo.orc.bench.sequence.done"
_CALLS = 3


def _resolve_all(dsn: str, schema: str, m: int) -> list[Any]:
    """Resolve ``m`` W4 workflows from this process (a broker without handlers)."""
    with create_concurrent_event_broker([], transport=PostgresTransport(dsn, schema=schema)) as h:
        futures = [h.resolve_async(sequence_init(_CALLS)) for _ in range(m)]
        return [future.result(45) for future in futures]


def _state_versions(dsn: str, schema: str) -> dict[str, int]:
    """How many times each workflow's state was written (1 insert + 1 per update)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, version FROM {}").format(sql.Identifier(schema, "machine_state"))
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def _ready(running: list[Worker]) -> None:
    for worker in running:
        assert worker.message() == {"ready": True}


def _close(running: list[Worker]) -> None:
    for worker in running:
        worker.send("close")
    for worker in running:
        assert worker.message() == {"closed": True}
        assert worker.finish() == 0


def test_two_workers_and_a_resolver_run_w4(dsn: str, schema: str) -> None:
    # The memory's tables exist before the workers race to create them.
    PostgresMachineMemory(dsn, schema=schema).close()
    job = {"dsn": dsn, "schema": schema, "prefetch": 10}
    with workers(job, job, module=_MODULE) as running:
        _ready(running)
        finals = _resolve_all(dsn, schema, 500)
        _close(running)
    assert len(finals) == 500
    assert all(final.type == _DONE for final in finals)
    # Every workflow took its 4 steps once each (init + 3 replies): one write per step.
    assert sorted(set(_state_versions(dsn, schema).values())) == [_CALLS + 1]
    assert len(_state_versions(dsn, schema)) == 500


def test_a_worker_killed_mid_event_loses_nothing(dsn: str, schema: str) -> None:
    PostgresMachineMemory(dsn, schema=schema).close()
    lease = {"dsn": dsn, "schema": schema, "prefetch": 4, "lease_ms": 300, "lock_ttl_ms": 500}
    with workers({**lease, "hold": True}, module=_MODULE) as (doomed,):
        assert doomed.message() == {"ready": True}
        with workers(lease, module=_MODULE) as (survivor,):
            with create_concurrent_event_broker(
                [], transport=PostgresTransport(dsn, schema=schema)
            ) as handle:
                futures = [handle.resolve_async(sequence_init(_CALLS)) for _ in range(40)]
                held = doomed.message()["holding"]  # the doomed worker is mid-event
                doomed.process.send_signal(signal.SIGKILL)
                assert doomed.process.wait() == -signal.SIGKILL
                assert survivor.message() == {"ready": True}
                finals = [future.result(45) for future in futures]
            _close([survivor])
    assert [final.type for final in finals] == [_DONE] * 40
    with psycopg.connect(dsn) as conn:
        held_row = conn.execute(
            sql.SQL("SELECT status, attempts, locked_by FROM {} WHERE event_id = %s").format(
                sql.Identifier(schema, "queue_event")
            ),
            (held,),
        ).fetchone()
    assert held_row == ("done", 2, None)  # reclaimed after its lease, run once more
    versions = _state_versions(dsn, schema)
    assert len(versions) == 40
    # Exactly once per step, though the killed worker's events ran again elsewhere.
    assert set(versions.values()) == {_CALLS + 1}


def test_two_resolving_processes_each_get_their_own_finals(dsn: str, schema: str) -> None:
    PostgresMachineMemory(dsn, schema=schema).close()
    job = {"dsn": dsn, "schema": schema, "prefetch": 10}
    resolving = {"dsn": dsn, "schema": schema, "resolve": 100}
    with workers(job, resolving, resolving, module=_MODULE) as running:
        worker, *resolvers = running
        _ready(running)
        for resolver in resolvers:  # both start once both listen: their resolves overlap
            resolver.send("go")
        results = [resolver.message()["resolved"] for resolver in resolvers]
        for resolver in resolvers:
            assert resolver.finish() == 0
        _close([worker])
    for pairs in results:
        assert len(pairs) == 100
        # Each resolve got the final event of its own workflow (same subject), none other.
        assert all(init == final and kind == _DONE for init, final, kind in pairs)
    subjects = [init for pairs in results for init, _, _ in pairs]
    assert len(set(subjects)) == 200
    versions = _state_versions(dsn, schema)
    assert len(versions) == 200
    assert set(versions.values()) == {_CALLS + 1}
