"""Local hand-offs: a holder's write-and-unlock hands the lease to its own process's next
request (no claim, the state it wrote), LOCAL_STREAK times in a row at most, then the
lease goes to the oldest request in the database, whichever process it belongs to.

Two memories on one schema stand for two processes: each has its own line of requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from arvo_concurrent.postgres import PostgresMachineMemory
from arvo_concurrent.postgres.waiting import LOCAL_STREAK
from tests.postgres.fixtures import MemoryFactory

WAIT_S = 30.0


def _queued(dsn: str, schema: str) -> list[str]:
    """The owners queued in the database for id 'wf', oldest first."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT owner FROM {} WHERE id = 'wf' ORDER BY ticket").format(
                sql.Identifier(schema, "machine_waiter")
            )
        ).fetchall()
    return [row[0] for row in rows]


def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # a bounded poll: the test's timeout
        threading.Event().wait(0.005)


def _waiting_locally(memory: PostgresMachineMemory) -> int:
    line = memory._lines._lines.get("wf")
    return 0 if line is None else len(line.queue)


class Turns:
    """Requests that each lock 'wf', note their turn and the state, and add one to it."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.threads: list[threading.Thread] = []

    def start(self, memory: PostgresMachineMemory, name: str) -> None:
        def run() -> None:
            granted, state = memory.lock_and_read("wf", owner=name)
            assert granted
            self.order.append(name)
            count = (state or {"count": 0})["count"]
            memory.write_and_unlock("wf", {"count": count + 1}, owner=name)

        thread = threading.Thread(target=run, name=name)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(WAIT_S)
            assert not thread.is_alive()


def _counting_locks(memory: PostgresMachineMemory) -> set[str]:
    """Record which requests ran a lock statement (a try or a claim) on ``memory``."""
    ran: set[str] = set()
    run = memory._run
    lock_read = memory._sql.lock_read

    def counting(machine_id: Any, operation: str, statement: bytes, params: Any) -> Any:
        if statement == lock_read:
            ran.add(params["owner"])
        return run(machine_id, operation, statement, params)

    memory._run = counting  # type: ignore[method-assign]
    return ran


def test_the_lease_goes_to_the_next_local_request_a_streak_at_a_time_then_to_the_oldest(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    patient = {"lock_max_retries": 10, "lock_initial_delay_ms": 1_000}
    with make_memory(**patient) as here, make_memory(**patient) as there:
        ran_a_lock = _counting_locks(here)
        assert here.lock("wf", owner="h")
        turns = Turns()
        names = [f"t{i}" for i in range(1, LOCAL_STREAK + 3)]
        turns.start(here, names[0])
        _until(lambda: _queued(dsn, schema) == [names[0]])
        for queued, name in enumerate(names[1:], start=1):
            turns.start(here, name)
            _until(lambda n=queued: _waiting_locally(here) == n)  # type: ignore[misc]
        turns.start(there, "w")  # another process's request, queued after t1's
        _until(lambda: _queued(dsn, schema) == [names[0], "w"])
        assert here.unlock("wf", owner="h")
        turns.join()
        # t1 through the database; then LOCAL_STREAK local turns; then the oldest
        # request in the database (w), before the local one that queued behind it.
        assert turns.order == [*names[: LOCAL_STREAK + 1], "w", names[-1]]
        assert here.read("wf") == {"count": len(names) + 1}
        handed_locally = set(names[1 : LOCAL_STREAK + 1])
        assert not ran_a_lock & handed_locally  # no try, no claim: the holder told them
        assert {names[0], names[-1]} <= ran_a_lock


def test_a_parked_request_that_runs_out_of_budget_gives_up_and_is_handed_nothing(
    dsn: str, schema: str, make_memory: MemoryFactory
) -> None:
    impatient = {"lock_max_retries": 1, "lock_initial_delay_ms": 50}
    with make_memory(**impatient) as memory:
        assert memory.lock("wf", owner="h")
        results: dict[str, bool] = {}
        queued = threading.Thread(target=lambda: results.update(q=memory.lock("wf", owner="q")))
        queued.start()
        _until(lambda: _queued(dsn, schema) == ["q"])
        # p queues behind q in this process, so it is parked when q is granted.
        parked = threading.Thread(target=lambda: results.update(p=memory.lock("wf", owner="p")))
        parked.start()
        _until(lambda: _waiting_locally(memory) == 1)
        assert memory.unlock("wf", owner="h")  # to q, through the database
        queued.join(WAIT_S)
        assert results["q"] is True
        parked.join(WAIT_S)  # q never unlocks: p's budget runs out while parked
        assert results["p"] is False
        memory.write_and_unlock("wf", {"done": True}, owner="q")
        assert _queued(dsn, schema) == []
        assert memory.lock("wf", owner="n") is True  # released free, not handed to p
