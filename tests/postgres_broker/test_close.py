"""Closing a PostgreSQL broker while its events run: another one finishes the rest."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from arvo_concurrent import ArvoEvent, ResolveError, create_concurrent_event_broker
from arvo_concurrent.postgres import PostgresMachineMemory, PostgresTransport, RemoteHandlerError
from benchmarks.workloads.bench_arvo import sequence_init, sequence_resumable, service_handler
from tests.postgres_broker.handlers import Runs, work_event, work_handler
from tests.postgres_broker.test_processes import _state_versions
from tests.postgres_broker.test_single_process import Reports

_RETRY = {"max_retries": 1, "initial_delay_ms": 1, "backoff_exponent": 1}


def _worker(dsn: str, schema: str, runs: Runs, reports: Reports) -> Any:
    return create_concurrent_event_broker(
        [{"handler": work_handler(runs), "prefetch": 4, "retry": _RETRY}],
        on_broker_error=reports,
        transport=PostgresTransport(dsn, schema=schema, lease_ms=2_000, poll_interval_s=0.2),
    )


def _outcome(future: Future[Any]) -> str:
    try:
        future.result(30)
    except ResolveError as error:
        [(cause, _)] = error.errors
        assert isinstance(cause, RemoteHandlerError)
        return "dead"
    return "done"


def test_nothing_is_lost_when_a_worker_closes_mid_stream(dsn: str, schema: str) -> None:
    runs_a, reports_a = Runs(), Reports()
    runs_b, reports_b = Runs(), Reports()
    modes = ["hold"] * 4 + ["ok", "fail"] * 10 + ["ok"] * 6
    resolver = create_concurrent_event_broker([], transport=PostgresTransport(dsn, schema=schema))
    with resolver:
        first = _worker(dsn, schema, runs_a, reports_a)
        futures = [resolver.resolve_async(work_event(n, mode)) for n, mode in enumerate(modes)]
        for _ in range(4):  # the first worker holds its four slots with the held events
            assert runs_a.started.acquire(timeout=20)
        closing = threading.Thread(target=first.close, args=(20,))
        closing.start()
        first.broker.closing.wait(20)  # it claims nothing more from here on
        runs_a.gate.set()  # its running events finish during the close and settle
        closing.join(20)
        assert not closing.is_alive()
        with _worker(dsn, schema, runs_b, reports_b) as second:
            outcomes = [_outcome(future) for future in futures]
            counts = second.broker.transport.counts()
    published = len(modes)
    dead = modes.count("fail")
    assert outcomes.count("done") + outcomes.count("dead") == published
    assert outcomes.count("dead") == dead
    assert counts == {
        "ready": 0,
        "running": 0,
        "done": published - dead,
        "dead": dead,
        "dropped": 0,
    }
    # Each event ran in exactly one of the two workers, its retry included.
    ran = {n: runs_a.by_n.get(n, 0) + runs_b.by_n.get(n, 0) for n in range(published)}
    assert ran == {n: 2 if mode == "fail" else 1 for n, mode in enumerate(modes)}
    assert set(runs_a.by_n) >= {0, 1, 2, 3}
    # Reported: the dead ones, once each, by the worker that ran their last attempt.
    assert len(reports_a) + len(reports_b) == dead


class GatedService:
    """The W4 service whose first call waits for ``gate`` (``started`` says it began)."""

    def __init__(self) -> None:
        self._handler = service_handler(0.0)
        self.source = self._handler.source
        self.started = threading.Event()
        self.gate = threading.Event()

    def execute(self, event: ArvoEvent) -> Any:
        if not self.started.is_set():
            self.started.set()
            self.gate.wait()
        return self._handler.execute(event)


def _waiting(handle: Any, topic: str) -> int:
    stats = handle.broker.get_stats(topic)
    return 0 if stats is None else int(stats.waiting)


def test_closing_gives_back_the_steps_kept_in_the_process(dsn: str, schema: str) -> None:
    # Prefetch 1 each: while the first workflow's service call is held, the second one's
    # call is kept by the same process and waits in its pool; the close must hand it over.
    with PostgresMachineMemory(dsn, schema=schema) as memory:

        def worker(service: Any) -> Any:
            handlers = [
                {"handler": sequence_resumable(memory), "prefetch": 1},
                {"handler": service, "prefetch": 1},
            ]
            return create_concurrent_event_broker(
                handlers, transport=PostgresTransport(dsn, schema=schema, lease_ms=5_000)
            )

        gated = GatedService()
        with create_concurrent_event_broker(
            [], transport=PostgresTransport(dsn, schema=schema)
        ) as resolver:
            first = worker(gated)
            futures = [resolver.resolve_async(sequence_init(3)) for _ in range(2)]
            assert gated.started.wait(20)
            # The second call waits in the service's pool: a state of the pool that no
            # callback announces, so the test looks at it until it holds (microseconds
            # per look, bounded by the test's timeout).
            while _waiting(first, gated.source) < 1:
                pass
            closing = threading.Thread(target=first.close, args=(20,))
            closing.start()
            first.broker.closing.wait(20)
            gated.gate.set()  # the held call finishes during the close and settles
            # ...and the waiting one went back to the queue, for the next worker.
            closing.join(20)
            assert not closing.is_alive()
            with worker(service_handler(0.0)):
                finals = [future.result(30) for future in futures]
    assert [final.type for final in finals] == ["arvo.orc.bench.sequence.done"] * 2
    assert list(_state_versions(dsn, schema).values()) == [4, 4]  # each step once
