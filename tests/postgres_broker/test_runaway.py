"""The in-process broker's runaway rules over PostgreSQL: hop limit, abandoned resolves."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from arvo_concurrent import ResolveError, ResolveTimeoutError, create_concurrent_event_broker
from arvo_concurrent.arvo import ArvoEvent
from arvo_concurrent.broker import EventDroppedError, HopLimitError
from arvo_concurrent.broker.factory import ConcurrentEventBrokerHandle
from arvo_concurrent.postgres import PostgresTransport, RemoteHandlerError
from tests.broker.support import ScriptedHandler, reply, scripted_event
from tests.broker.test_runaway import SelfEmitter, _self_emitting
from tests.postgres_broker.test_single_process import Reports, queue_counts

_WAIT_S = 20


def _transport(dsn: str, schema: str) -> PostgresTransport:
    return PostgresTransport(dsn, schema=schema, lease_ms=2_000, poll_interval_s=0.2)


@contextlib.contextmanager
def _worker_and_resolver(
    dsn: str, schema: str, handlers: list[Any], reports: Reports
) -> Iterator[tuple[ConcurrentEventBrokerHandle, ConcurrentEventBrokerHandle]]:
    """A broker that runs ``handlers`` and one that only resolves, each with a transport
    of its own, as two processes would have."""
    with (
        create_concurrent_event_broker(
            handlers, on_broker_error=reports, transport=_transport(dsn, schema)
        ) as worker,
        create_concurrent_event_broker([], transport=_transport(dsn, schema)) as resolver,
    ):
        yield worker, resolver


@pytest.mark.parametrize(("fan", "prefetch"), [(1, 1), (2, 4)])
def test_a_self_emitting_lineage_stops_at_the_hop_limit(
    dsn: str, schema: str, fan: int, prefetch: int
) -> None:
    emitter, reports = SelfEmitter(fan=fan), Reports()
    with create_concurrent_event_broker(
        _self_emitting(emitter, prefetch=prefetch),
        on_broker_error=reports,
        max_hops=50,
        transport=_transport(dsn, schema),
    ) as handle:
        with pytest.raises(ResolveError, match="HopLimitError") as raised:
            handle.resolve(scripted_event(), timeout=_WAIT_S)
        handle.broker.wait_for_idle(_WAIT_S)  # the reports follow the settlings
        counts = queue_counts(handle)
    # The initial event and 49 of its own, exactly, however many settle at once.
    assert emitter.runs == 50
    errors = raised.value.errors
    assert len(errors) == len(reports) == 50 * fan - 49  # every output past the limit
    for error, event in errors:
        assert isinstance(error, RemoteHandlerError)
        assert error.error_type == "HopLimitError"
        assert "max_hops=50" in str(error)
        assert event.to == "com.test.scripted"
    for reported, reported_event in reports:
        assert isinstance(reported, HopLimitError)
        assert reported.limit == 50
        assert reported_event.to == "com.test.scripted"
    assert {e.id for _, e in errors} == {e.id for _, e in reports}
    assert counts["done"] == 50
    assert counts["ready"] == counts["running"] == 0


class FanOut:
    """``com.test.scripted`` emits three ``com.test.slow`` events; the first one is held."""

    def __init__(self) -> None:
        self.ran: list[int] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def fan(self, event: ArvoEvent) -> list[ArvoEvent]:
        return [reply(event, to="com.test.slow", data={"n": n}) for n in range(3)]

    def slow(self, event: ArvoEvent) -> list[ArvoEvent]:
        self.ran.append(event.data["n"])
        self.entered.set()
        assert self.gate.wait(_WAIT_S)
        return []

    def handlers(self) -> list[dict[str, Any]]:
        return [
            {"handler": ScriptedHandler("com.test.scripted", self.fan)},
            {"handler": ScriptedHandler("com.test.slow", self.slow), "prefetch": 1},
        ]


def test_the_queued_events_of_an_abandoned_resolve_are_dropped_and_reported(
    dsn: str, schema: str
) -> None:
    script, reports = FanOut(), Reports()
    # The resolve runs in a process of its own (a transport of its own); the events
    # run in the worker's.
    with _worker_and_resolver(dsn, schema, script.handlers(), reports) as (worker, resolver):
        future = resolver.resolve_async(scripted_event())
        # n=0 runs; n=1 waits in the worker's pool (kept there, already claimed); n=2
        # waits in the queue (past the worker's local backlog).
        assert script.entered.wait(_WAIT_S)
        assert future.cancel()  # abandons the lineage, in the queue too, before returning
        script.gate.set()
        assert reports.heard.acquire(timeout=_WAIT_S)
        assert reports.heard.acquire(timeout=_WAIT_S)
        worker.broker.wait_for_idle(_WAIT_S)
        counts = queue_counts(worker)
    assert script.ran == [0]
    assert sorted(event.data["n"] for _, event in reports) == [1, 2]
    for error, event in reports:
        assert isinstance(error, EventDroppedError)
        assert (error.reason, error.topic, error.event) == ("abandoned", "com.test.slow", event)
    assert counts == {"ready": 0, "running": 0, "done": 2, "dead": 0, "dropped": 2}


def test_the_outputs_of_an_abandoned_resolve_are_not_queued(dsn: str, schema: str) -> None:
    script, reports = FanOut(), Reports()
    entered, gate = threading.Event(), threading.Event()

    def held_fan(event: ArvoEvent) -> list[ArvoEvent]:
        entered.set()
        assert gate.wait(_WAIT_S)
        return script.fan(event)

    handlers = script.handlers()
    handlers[0] = {"handler": ScriptedHandler("com.test.scripted", held_fan)}
    with _worker_and_resolver(dsn, schema, handlers, reports) as (worker, resolver):
        future = resolver.resolve_async(scripted_event())
        assert entered.wait(_WAIT_S)
        assert future.cancel()
        gate.set()  # the running event finishes; its three outputs go nowhere
        for _ in range(3):
            assert reports.heard.acquire(timeout=_WAIT_S)
        worker.broker.wait_for_idle(_WAIT_S)
        counts = queue_counts(worker)
    assert script.ran == []
    assert sorted(event.data["n"] for _, event in reports) == [0, 1, 2]
    assert {error.reason for error, _ in reports} == {"abandoned"}  # type: ignore[attr-defined]
    assert counts == {"ready": 0, "running": 0, "done": 1, "dead": 0, "dropped": 0}


def test_a_resolve_that_timed_out_stops_its_lineage(dsn: str, schema: str) -> None:
    script, reports = FanOut(), Reports()
    gate = threading.Event()

    def held_fan(event: ArvoEvent) -> list[ArvoEvent]:
        assert gate.wait(_WAIT_S)  # released only once the resolve timed out
        return script.fan(event)

    handlers = script.handlers()
    handlers[0] = {"handler": ScriptedHandler("com.test.scripted", held_fan)}
    with _worker_and_resolver(dsn, schema, handlers, reports) as (worker, resolver):
        with pytest.raises(ResolveTimeoutError):
            resolver.resolve(scripted_event(), timeout=0.2)
        gate.set()
        # The first event was either still queued (then dropped unrun) or held (then
        # its outputs are dropped): in both cases nothing after it runs.
        assert reports.heard.acquire(timeout=_WAIT_S)
        worker.broker.wait_for_idle(_WAIT_S)
        counts = queue_counts(worker)
    assert script.ran == []
    assert {(type(error), error.reason) for error, _ in reports} == {  # type: ignore[attr-defined]
        (EventDroppedError, "abandoned")
    }
    assert len(reports) in (1, 3)
    assert (counts["ready"], counts["running"], counts["done"] + counts["dropped"]) == (0, 0, 1)
