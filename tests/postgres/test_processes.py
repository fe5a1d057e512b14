"""Several processes on one database: contention, a killed holder, a paused holder, a fan-in.

Each process is a ``tests.postgres.worker``; steps are ordered by the JSON lines the
workers print and the lines the test sends them, never by sleeping.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from arvo_concurrent import ArvoEvent, create_concurrent_event_broker
from tests.postgres.fixtures import MemoryFactory
from tests.postgres.processes import workers
from tests.postgres.workflow import fanin_init, fanin_resumable, service_handler

# PROCESSES x THREADS x TIMES; the issue's figure by default. A slow CI machine may
# scale it down with ARVO_PG_CONTENTION=2x4x50, say (every figure still contends).
_CONTENTION = os.environ.get("ARVO_PG_CONTENTION", "4x8x200")
# A budget that only a bug can spend: the lock changes hands all the time.
_PATIENT = {"lock_max_retries": 10, "lock_initial_delay_ms": 100, "lock_backoff_exponent": 1.5}


def _args(dsn: str, schema: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"dsn": dsn, "schema": schema, "command": command, **extra}


@pytest.mark.timeout(300)
def test_processes_times_threads_times_increments_lose_nothing(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    processes, threads, times = (int(part) for part in _CONTENTION.split("x"))
    job = _args(dsn, schema, "increment", id="counter", threads=threads, times=times)
    job["settings"] = _PATIENT
    with workers(*[job] * processes) as running:
        results = [worker.message() for worker in running]
        assert [worker.finish() for worker in running] == [0] * processes
    assert results == [{"refused": 0, "workers": threads}] * processes
    with make_memory() as memory:
        assert memory.read("counter") == {"count": processes * threads * times}


def test_a_killed_holders_lock_is_taken_by_another_process_after_its_ttl(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    ttl = {"lock_ttl_ms": 500}
    holder = _args(dsn, schema, "hold", id="wf", settings=ttl)
    with workers(holder) as (worker,):
        assert worker.message() == {"locked": {"count": 0}}
        worker.process.send_signal(signal.SIGKILL)
        assert worker.finish() == -signal.SIGKILL
        with make_memory(lock_max_retries=0, **ttl) as memory:
            assert memory.lock("wf") is False  # the dead holder's lease is in force
        # One wait budget (10 s) far beyond the TTL: the lease's expiry ends the wait.
        with make_memory(lock_max_retries=1, lock_initial_delay_ms=10_000, **ttl) as memory:
            assert memory.lock("wf") is True
            memory.write("wf", {"count": 1})
            assert memory.unlock("wf")
            assert memory.read("wf") == {"count": 1}


def test_a_paused_holder_resumed_after_its_ttl_is_fenced_and_the_value_is_exact(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    ttl = {"lock_ttl_ms": 500}
    with make_memory() as memory:
        memory.write("wf", {"count": 0})
    holder = _args(dsn, schema, "hold", id="wf", settings=ttl)
    with workers(holder) as (worker,):
        assert worker.message() == {"locked": {"count": 0}}
        worker.process.send_signal(signal.SIGSTOP)
        try:
            with make_memory(lock_max_retries=1, lock_initial_delay_ms=10_000, **ttl) as memory:
                assert memory.lock("wf") is True  # after the paused holder's lease expired
                state = memory.read("wf")
                assert state is not None
                memory.write("wf", {"count": state["count"] + 1})
                assert memory.unlock("wf")
        finally:
            worker.process.send_signal(signal.SIGCONT)
        worker.send("go")  # the paused holder now writes what it computed before
        assert "fenced" in worker.message()
        assert worker.finish() == 0
    with make_memory() as memory:
        assert memory.read("wf") == {"count": 1}


def test_a_fan_in_whose_replies_two_processes_handle_completes_with_the_exact_count(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    k = 20
    init = fanin_init(k)
    with make_memory(**_PATIENT) as memory:
        calls = fanin_resumable(memory).execute(init)
    assert len(calls) == k
    service = service_handler()
    replies = [reply for call in calls for reply in service.execute(call)]
    job = _args(dsn, schema, "fanin", threads=4, settings=_PATIENT)
    with workers(job, job) as running:
        for index, reply in enumerate(replies):
            running[index % 2].send(reply.to_json())
        for worker in running:
            worker.send("")
        outputs = [ArvoEvent.from_json(text) for w in running for text in w.message()["outputs"]]
        assert [worker.finish() for worker in running] == [0, 0]
    completions = [event for event in outputs if event.to == init.source]
    assert len(completions) == 1
    assert completions[0].data["n"] == k
    assert len(outputs) == 1  # the other 19 steps emit nothing


def test_a_fan_in_through_the_broker_on_the_postgres_memory_completes(
    make_memory: MemoryFactory,
) -> None:
    k = 20
    init = fanin_init(k)
    with make_memory(**_PATIENT) as memory:
        handlers = [
            {"handler": fanin_resumable(memory), "prefetch": 4},
            {"handler": service_handler(), "prefetch": 8},
        ]
        with create_concurrent_event_broker(handlers) as handle:
            done = handle.resolve(init, timeout=30)
        assert done is not None
        assert done.data["n"] == k
