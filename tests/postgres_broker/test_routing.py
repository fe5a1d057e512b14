"""Routing over PostgreSQL: a topic no process served is refused, one served lately waits."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from arvo_concurrent import ResolveError, create_concurrent_event_broker
from arvo_concurrent.arvo import ArvoEvent
from arvo_concurrent.broker import RoutingError
from arvo_concurrent.broker.factory import ConcurrentEventBrokerHandle
from arvo_concurrent.postgres import PostgresTransport, RemoteHandlerError
from tests.broker.support import ScriptedHandler, reply, scripted_event
from tests.postgres_broker.handlers import WORK, Runs, work_event, work_handler
from tests.postgres_broker.test_single_process import Reports, queue_counts

_WAIT_S = 20


def _resolver(
    dsn: str, schema: str, reports: Reports, **settings: Any
) -> ConcurrentEventBrokerHandle:
    return create_concurrent_event_broker(
        [], on_broker_error=reports, transport=PostgresTransport(dsn, schema=schema, **settings)
    )


def test_a_resolve_for_a_topic_never_served_ends_with_a_routing_error(
    dsn: str, schema: str
) -> None:
    reports = Reports()
    event = work_event(1)
    with _resolver(dsn, schema, reports) as handle:
        with pytest.raises(ResolveError, match="Routing failed") as raised:
            handle.resolve(event, timeout=_WAIT_S)
        counts = queue_counts(handle)
    [(error, about)] = raised.value.errors
    assert isinstance(error, RoutingError)
    assert (error.topic, about) == (WORK, event)
    assert reports == [(error, event)]
    assert counts["ready"] == 0  # not queued


def test_an_output_for_a_topic_never_served_is_an_error_of_the_resolve(
    dsn: str, schema: str
) -> None:
    reports = Reports()

    def astray(event: ArvoEvent) -> list[ArvoEvent]:
        final = [reply(event)] if event.data.get("final") else []
        return [reply(event, to="com.test.nowhere"), *final]

    handlers = [{"handler": ScriptedHandler("com.test.scripted", astray)}]
    with create_concurrent_event_broker(
        handlers, on_broker_error=reports, transport=PostgresTransport(dsn, schema=schema)
    ) as handle:
        final = handle.resolve(scripted_event(final=True), timeout=_WAIT_S)
        with pytest.raises(ResolveError) as raised:
            handle.resolve(scripted_event(), timeout=_WAIT_S)
        counts = queue_counts(handle)
    assert final.type == "evt.test.reply.done"  # the final event still came back
    [(error, about)] = raised.value.errors
    assert isinstance(error, RemoteHandlerError)
    assert error.error_type == "RoutingError"
    assert "com.test.nowhere" in str(error)
    assert about.to == "com.test.nowhere"
    assert [type(e) for e, _ in reports] == [RoutingError, RoutingError]
    assert counts == {"ready": 0, "running": 0, "done": 2, "dead": 0, "dropped": 0}


def test_an_event_for_a_topic_served_lately_waits_for_its_next_worker(
    dsn: str, schema: str
) -> None:
    runs, reports = Runs(), Reports()

    def worker() -> ConcurrentEventBrokerHandle:
        return create_concurrent_event_broker(
            [{"handler": work_handler(runs)}], transport=PostgresTransport(dsn, schema=schema)
        )

    worker().close()  # served once, by a process gone now (a restart, a deploy)
    with _resolver(dsn, schema, reports) as handle:
        future = handle.resolve_async(work_event(5))
        assert queue_counts(handle)["ready"] == 1  # queued, waiting
        with worker():
            assert future.result(_WAIT_S).data == {"n": 5}
    assert reports == []
    assert runs.by_n == {5: 1}


def test_a_short_routing_window_refuses_a_topic_not_served_within_it(dsn: str, schema: str) -> None:
    create_concurrent_event_broker(
        [{"handler": work_handler(Runs())}], transport=PostgresTransport(dsn, schema=schema)
    ).close()
    with psycopg.connect(dsn, autocommit=True) as conn:  # its last renewal: a minute ago
        conn.execute(
            sql.SQL("UPDATE {} SET seen_at = clock_timestamp() - interval '1 minute'").format(
                sql.Identifier(schema, "queue_subscription")
            )
        )
    reports = Reports()
    with (
        _resolver(dsn, schema, reports, routing_window_s=30) as handle,
        pytest.raises(ResolveError, match="Routing failed"),
    ):
        handle.resolve(work_event(2), timeout=_WAIT_S)
    with _resolver(dsn, schema, Reports(), routing_window_s=120) as handle:
        handle.broker.publish(work_event(3))  # within this window: queued
        assert queue_counts(handle)["ready"] == 1
    assert [type(error) for error, _ in reports] == [RoutingError]
