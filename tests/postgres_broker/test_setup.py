"""Setting up a PostgresTransport: its tables, its settings, one broker per transport."""

from __future__ import annotations

import psycopg
import pytest

from arvo_concurrent import ClosedError, create_concurrent_event_broker
from arvo_concurrent.postgres import (
    QUEUE_VERSION,
    PostgresTransport,
    QueueBackendError,
    SchemaError,
    migrate_queue,
)


def test_migrate_queue_is_idempotent_and_the_transport_checks_it(dsn: str, schema: str) -> None:
    with pytest.raises(SchemaError, match=f"needs {QUEUE_VERSION}"):
        PostgresTransport(dsn, schema=schema, create_schema=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert migrate_queue(conn, schema) == list(range(1, QUEUE_VERSION + 1))
        assert migrate_queue(conn, schema) == []
    transport = PostgresTransport(dsn, schema=schema, create_schema=False)
    assert transport.counts() == {"ready": 0, "running": 0, "done": 0, "dead": 0, "dropped": 0}
    transport.close(None)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"lease_ms": 0}, "lease_ms"),
        ({"poll_interval_s": -1}, "poll_interval_s"),
        ({"retention_s": "1"}, "retention_s"),
        ({"routing_window_s": -5}, "routing_window_s"),
        ({"schema": ""}, "schema"),
    ],
)
def test_bad_settings_are_refused_by_name(
    dsn: str, settings: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        PostgresTransport(dsn, **settings)  # type: ignore[arg-type]


def test_an_unreachable_server_fails_at_construction() -> None:
    with pytest.raises(QueueBackendError, match="connect"):
        PostgresTransport("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")


def test_a_transport_serves_one_broker(dsn: str, schema: str) -> None:
    transport = PostgresTransport(dsn, schema=schema)
    with (
        create_concurrent_event_broker([], transport=transport),
        pytest.raises(ValueError, match="serves one broker"),
    ):
        create_concurrent_event_broker([], transport=transport)
    closed = PostgresTransport(dsn, schema=schema)
    closed.close(None)
    with pytest.raises(ClosedError):
        create_concurrent_event_broker([], transport=closed)
