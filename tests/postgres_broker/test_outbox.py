"""The transactional outbox: a workflow step and its events commit together, once."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg import sql

from arvo_concurrent import ArvoEvent, create_concurrent_event_broker
from arvo_concurrent.postgres import PostgresMachineMemory, PostgresTransport
from benchmarks.workloads.bench_arvo import sequence_init, sequence_resumable
from tests.postgres_broker.handlers import WORK, work_event


class Started:
    """Wraps a handler: each execution releases ``started`` before it runs."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler
        self.source = handler.source
        self.started = threading.Semaphore(0)

    def execute(self, event: ArvoEvent) -> Any:
        self.started.release()
        return self._handler.execute(event)


def test_a_step_delivered_twice_at_once_takes_effect_once(dsn: str, schema: str) -> None:
    init = sequence_init(3)
    # No service is ever subscribed here: its topics are queued all the same.
    unchecked: dict[str, Any] = {"schema": schema, "routing_window_s": None}
    with PostgresMachineMemory(dsn, schema=schema) as memory:
        with create_concurrent_event_broker(
            [], transport=PostgresTransport(dsn, **unchecked)
        ) as publisher:
            publisher.broker.publish(init)
            publisher.broker.publish(init)  # the same event again: a duplicate delivery
        step = Started(sequence_resumable(memory))
        transport = PostgresTransport(dsn, **unchecked)
        # Prefetch 2: both copies are claimed in one batch and run at the same time.
        with create_concurrent_event_broker(
            [{"handler": step, "prefetch": 2}], transport=transport
        ) as handle:
            assert step.started.acquire(timeout=20)
            assert step.started.acquire(timeout=20)
            handle.broker.wait_for_idle(20)
            counts = transport.counts()
        state = memory.read(init.subject)
    with psycopg.connect(dsn) as conn:
        [(version,)] = conn.execute(
            sql.SQL("SELECT version FROM {} WHERE id = %s").format(
                sql.Identifier(schema, "machine_state")
            ),
            (init.subject,),
        ).fetchall()
        [(calls,)] = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE topic = 'com.bench.svc'").format(
                sql.Identifier(schema, "queue_event")
            )
        ).fetchall()
    assert version == 1  # one write: the second run's transaction rolled back
    assert state is not None
    assert state["state$$"] == {"left": 2}  # the init step, once
    assert state["events"]["handled"] == [init.id]
    assert calls == 1  # and so did the service call it emitted
    assert counts == {"ready": 1, "running": 0, "done": 2, "dead": 0, "dropped": 0}


class LosesItsLease:
    """``com.test.work``: locks ``wf`` and writes the attempt; its first lease is stolen.

    The thief takes the lease (a later fence) and lets it lapse at once, so the first
    attempt's write is refused at the settling and the next attempt may lock.
    """

    source = WORK

    def __init__(self, memory: PostgresMachineMemory, dsn: str, schema: str) -> None:
        self._memory = memory
        self._dsn = dsn
        self._lease = sql.Identifier(schema, "machine_lease")
        self.attempts = 0

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        self.attempts += 1
        assert self._memory.lock("wf")
        if self.attempts == 1:
            with psycopg.connect(self._dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL(
                        "UPDATE {} SET owner = 'thief', fence = fence + 1000000,"
                        " expires_at = clock_timestamp() WHERE id = 'wf'"
                    ).format(self._lease)
                )
        self._memory.write("wf", {"attempt": self.attempts})  # deferred to the settling
        self._memory.unlock("wf")
        return []


def test_a_step_whose_lease_was_lost_commits_nothing_and_runs_again(dsn: str, schema: str) -> None:
    with PostgresMachineMemory(dsn, schema=schema) as memory:
        handler = LosesItsLease(memory, dsn, schema)
        transport = PostgresTransport(dsn, schema=schema)
        with create_concurrent_event_broker(
            [{"handler": handler, "prefetch": 1}], transport=transport
        ) as handle:
            assert handle.resolve(work_event(1), missing="none", timeout=20) is None
            counts = transport.counts()
        state = memory.read("wf")
    with psycopg.connect(dsn) as conn:
        [(version,)] = conn.execute(
            sql.SQL("SELECT version FROM {} WHERE id = 'wf'").format(
                sql.Identifier(schema, "machine_state")
            )
        ).fetchall()
        [(attempts, error)] = conn.execute(
            sql.SQL("SELECT attempts, last_error FROM {}").format(
                sql.Identifier(schema, "queue_event")
            )
        ).fetchall()
    assert handler.attempts == 2
    assert state == {"attempt": 2}
    assert version == 1  # the first attempt's write rolled back with its settling
    assert attempts == 2
    assert error.startswith("FencingError")
    assert counts == {"ready": 0, "running": 0, "done": 1, "dead": 0, "dropped": 0}
