"""The PostgreSQL broker in one process: resolve, errors, retries, dead letters, dedup."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from psycopg import sql

from arvo_concurrent import ResolveError, create_concurrent_event_broker
from arvo_concurrent.broker.factory import ConcurrentEventBrokerHandle
from arvo_concurrent.postgres import (
    DeadLetter,
    PostgresTransport,
    QueueEncodingError,
    RemoteHandlerError,
)
from tests.postgres_broker.handlers import WORK, Flaky, Runs, work_event, work_handler

_FAST_RETRY = {"max_retries": 2, "initial_delay_ms": 1, "backoff_exponent": 1}


class Reports(list[tuple[Exception, Any]]):
    """What on_broker_error heard; ``heard`` counts them for a test to wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.heard = threading.Semaphore(0)

    def __call__(self, error: Exception, event: Any) -> None:
        self.append((error, event))
        self.heard.release()


def queue_counts(handle: ConcurrentEventBrokerHandle) -> dict[str, int]:
    """The queue's events by status, through the handle's PostgreSQL transport."""
    transport = handle.broker.transport
    assert isinstance(transport, PostgresTransport)
    return transport.counts()


def _broker(dsn: str, schema: str, runs: Runs, reports: Reports, **entry: Any) -> Any:
    flaky = entry.pop("flaky", None)
    handlers = [{"handler": work_handler(runs, flaky), "prefetch": 4, **entry}]
    return create_concurrent_event_broker(
        handlers,
        on_broker_error=reports,
        transport=PostgresTransport(dsn, schema=schema, lease_ms=2_000, poll_interval_s=0.2),
    )


def test_resolve_returns_the_final_event(dsn: str, schema: str) -> None:
    runs, reports = Runs(), Reports()
    with _broker(dsn, schema, runs, reports) as handle:
        finals = [handle.resolve(work_event(n), timeout=20) for n in range(5)]
        counts = handle.broker.transport.counts()
    assert [final.data for final in finals] == [{"n": n} for n in range(5)]
    assert {final.type for final in finals} == {"evt.test.work.success"}
    assert runs.by_n == dict.fromkeys(range(5), 1)
    assert counts["done"] == 5
    assert counts["ready"] == counts["running"] == 0
    assert reports == []
    with psycopg.connect(dsn) as conn:
        lineages = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "queue_lineage"))
        ).fetchone()
    assert lineages == (0,)  # collected, then deleted (at the latest by the close)


def test_retries_go_through_the_queue(dsn: str, schema: str) -> None:
    runs, reports = Runs(), Reports()
    with _broker(dsn, schema, runs, reports, retry=_FAST_RETRY, flaky=Flaky(2)) as handle:
        final = handle.resolve(work_event(7, "flaky"), timeout=20)
        stats = handle.handler_stats("com.test.work")
    assert final.data == {"n": 7}
    assert runs.by_n == {7: 3}  # 1 + max_retries attempts, the last one succeeds
    assert stats is not None
    assert (stats.executions, stats.retries, stats.succeeded) == (3, 2, 1)
    assert reports == []


def test_a_poison_event_ends_dead_and_can_be_requeued(dsn: str, schema: str) -> None:
    runs, reports = Runs(), Reports()
    with _broker(dsn, schema, runs, reports, retry=_FAST_RETRY) as handle:
        transport: PostgresTransport = handle.broker.transport
        poison = work_event(9, "fail")
        with pytest.raises(ResolveError) as raised:
            handle.resolve(poison, timeout=20)
        [(error, about)] = raised.value.errors
        assert isinstance(error, RemoteHandlerError)
        assert error.error_type == "ConnectionError"
        assert "work 9 failed" in str(error)
        assert about.id == poison.id
        [dead] = transport.dead_letters()
        assert isinstance(dead, DeadLetter)
        assert (dead.topic, dead.attempts, dead.event.id) == ("com.test.work", 3, poison.id)
        assert dead.error is not None
        assert "work 9 failed" in dead.error
        assert runs.by_n == {9: 3}
        [(reported, reported_event)] = reports  # once, after the last attempt
        assert isinstance(reported, ConnectionError)
        assert reported_event.id == poison.id

        assert reports.heard.acquire(timeout=0)
        assert transport.requeue([dead.id]) == [dead.id]
        assert transport.requeue([dead.id]) == []  # not dead any more
        assert reports.heard.acquire(timeout=20)  # its three attempts failed again
        handle.broker.wait_for_idle(20)  # and it settled
        [again] = transport.dead_letters()
        assert (again.id, again.attempts) == (dead.id, 3)
    assert runs.by_n == {9: 6}
    assert len(reports) == 2


def test_a_duplicate_delivery_has_one_effect(dsn: str, schema: str) -> None:
    runs, reports = Runs(), Reports()
    event = work_event(3)
    with _broker(dsn, schema, runs, reports) as handle:
        first = handle.resolve(event, timeout=20)
        again = handle.resolve(event, missing="none", timeout=20)
        counts = handle.broker.transport.counts()
    assert first.data == {"n": 3}
    assert again is None  # skipped: consumed already, so no reply either
    assert runs.by_n == {3: 1}
    assert counts["done"] == 2
    assert reports == []


def test_only_arvo_events_go_through(dsn: str, schema: str) -> None:
    runs, reports = Runs(), Reports()

    class Plain:
        to = "com.test.work"
        source = "com.test.client"

    with _broker(dsn, schema, runs, reports) as handle:
        with pytest.raises(QueueEncodingError, match="only ArvoEvents"):
            handle.broker.publish(Plain())
        assert handle.broker.transport.counts()["ready"] == 0


class Relay:
    """``com.test.work``: event 0 publishes event 1 with ``mode`` :data:`ODD`; records modes."""

    source = WORK

    def __init__(self) -> None:
        self.modes: list[str] = []
        self.done = threading.Event()

    def execute(self, event: Any) -> list[Any]:
        self.modes.append(event.data["mode"])
        if event.data["n"] == 0:
            return [work_event(1, ODD)]
        self.done.set()
        return []


# What the text format of an array must escape or quote (the outputs are sent as arrays).
ODD = "q\"uote \\back\\\\ é漢\U0001f600 {a,b} NULL \n\t'end"


def test_an_output_with_characters_arrays_escape_arrives_intact(dsn: str, schema: str) -> None:
    relay = Relay()
    with create_concurrent_event_broker(
        [{"handler": relay, "prefetch": 2}], transport=PostgresTransport(dsn, schema=schema)
    ) as handle:
        handle.broker.publish(work_event(0))
        assert relay.done.wait(20)
    assert relay.modes == ["ok", ODD]
