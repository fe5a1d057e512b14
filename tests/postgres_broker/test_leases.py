"""Leases: a running event's lease is renewed, so no other process takes it meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from arvo_concurrent import create_concurrent_event_broker
from arvo_concurrent.postgres import PostgresTransport
from tests.postgres_broker.handlers import Runs, work_event, work_handler

_LEASE_MS = 300


def _worker(dsn: str, schema: str, runs: Runs) -> Any:
    return create_concurrent_event_broker(
        [{"handler": work_handler(runs), "prefetch": 1}],
        transport=PostgresTransport(dsn, schema=schema, lease_ms=_LEASE_MS, poll_interval_s=0.05),
    )


def _lease_of(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> tuple[object, ...]:
    row = conn.execute(
        sql.SQL("SELECT locked_until, locked_by, clock_timestamp() FROM {}").format(
            sql.Identifier(schema, "queue_event")
        )
    ).fetchone()
    assert row is not None
    return row


def test_a_long_event_keeps_its_lease_while_another_process_polls(dsn: str, schema: str) -> None:
    runs_a, runs_b = Runs(), Runs()
    resolver = create_concurrent_event_broker([], transport=PostgresTransport(dsn, schema=schema))
    with resolver, _worker(dsn, schema, runs_a), psycopg.connect(dsn) as conn:
        conn.autocommit = True
        future = resolver.resolve_async(work_event(0, "hold"))
        assert runs_a.started.acquire(timeout=20)
        first_expiry, holder, _ = _lease_of(conn, schema)
        with _worker(dsn, schema, runs_b):
            # Wait (on the database's clock) until the first lease would have lapsed
            # twice over: the other worker reclaims every third of a lease meanwhile.
            assert isinstance(first_expiry, datetime)
            horizon = first_expiry + timedelta(milliseconds=_LEASE_MS)
            while True:
                renewed, still_holder, now = _lease_of(conn, schema)
                assert still_holder == holder  # never reclaimed
                assert isinstance(now, datetime)
                if now > horizon:
                    break
            assert isinstance(renewed, datetime)
            assert renewed > first_expiry  # the heartbeat renewed it
            runs_a.gate.set()
            assert future.result(20).data == {"n": 0}
    assert runs_a.by_n == {0: 1}
    assert runs_b.by_n == {}
