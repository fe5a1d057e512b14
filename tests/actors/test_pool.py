"""HandlerPool: scheduling onto lazily started workers, FIFO backlog, close."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from arvo_concurrent.actors.lifecycle import deadline_after
from arvo_concurrent.actors.pool import Admission, HandlerPool, PoolLoad
from arvo_concurrent.actors.worker import PoolWorker, current_worker

WAIT_S = 5.0


class Recorder:
    """An execute function that records items and can hold them on a gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.items: list[Any] = []
        self.gate = gate
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.threads: set[int] = set()

    def __call__(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.threads.add(threading.get_ident())
            self.cond.notify_all()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)

    def wait_for(self, n: int) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.items) >= n, WAIT_S)


@pytest.fixture
def make_pool() -> Iterator[Callable[..., HandlerPool]]:
    pools: list[HandlerPool] = []

    def make(
        prefetch: int,
        execute: Callable[[Any], None],
        settle: Callable[[Any], object] = lambda item: None,
        max_queued: int | None = None,
    ) -> HandlerPool:
        pool = HandlerPool("t", prefetch, execute, settle, max_queued=max_queued)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()
        assert pool.join(deadline_after(WAIT_S)) == 0


def test_sequential_items_reuse_one_lazily_started_worker(make_pool: Any) -> None:
    rec = Recorder()
    settled: list[tuple[Any, PoolLoad]] = []
    pool: HandlerPool

    def settle(item: Any) -> None:
        settled.append((item, pool.load()))
        done.set()

    pool = make_pool(8, rec, settle)
    assert pool.load() == PoolLoad(running=0, waiting=0, workers=0)
    for i in range(5):
        done = threading.Event()
        assert pool.submit(i)
        assert done.wait(WAIT_S)
    assert rec.items == [0, 1, 2, 3, 4]
    # settle runs once the worker is idle again, so the next item reuses it.
    assert settled == [(i, PoolLoad(running=0, waiting=0, workers=1)) for i in range(5)]
    assert len(rec.threads) == 1


def test_settle_runs_before_the_worker_takes_the_next_item(make_pool: Any) -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    settled: list[tuple[Any, PoolLoad]] = []
    pool: HandlerPool = make_pool(1, rec, lambda item: settled.append((item, pool.load())))
    for i in range(3):
        pool.submit(i)
    gate.set()
    assert rec.wait_for(3)
    assert [item for item, _ in settled[:2]] == [0, 1]
    # Item 0 no longer counts as running, and item 1 still waits: it was not taken yet.
    assert settled[0][1] == PoolLoad(running=0, waiting=2, workers=1)
    assert settled[1][1] == PoolLoad(running=0, waiting=1, workers=1)


def test_a_worker_busy_in_settle_is_not_handed_the_next_item(make_pool: Any) -> None:
    # Head-of-line blocking: the broker's settle runs idle callbacks, which can be slow.
    # A worker used to be listed idle before its settle; the next item then went to it
    # (the most recently idle) and waited behind the callback although another was free.
    gates = {"x": threading.Event(), "slow": threading.Event()}
    rec = Recorder()
    x_settled, in_slow_settle, end_slow_settle = (threading.Event() for _ in range(3))

    def execute(item: Any) -> None:
        rec(item)
        if item in gates:
            assert gates[item].wait(WAIT_S)

    def settle(item: Any) -> None:
        if item == "x":
            x_settled.set()
        elif item == "slow":
            in_slow_settle.set()
            assert end_slow_settle.wait(2 * WAIT_S)

    pool = make_pool(2, execute, settle)
    pool.submit("x")
    pool.submit("slow")
    assert rec.wait_for(2)  # one worker each
    try:
        gates["x"].set()
        assert x_settled.wait(WAIT_S)  # x's worker is idle, or about to be
        gates["slow"].set()
        assert in_slow_settle.wait(WAIT_S)
        pool.submit("next")
        assert rec.wait_for(3), "the next item waited behind a worker busy in settle"
    finally:
        end_slow_settle.set()
    assert rec.items[2] == "next"


def test_backlog_runs_in_fifo_order_beyond_prefetch(make_pool: Any) -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    pool = make_pool(1, rec)
    for i in range(20):
        pool.submit(i)
    assert rec.wait_for(1)
    assert pool.load() == PoolLoad(running=1, waiting=19, workers=1)
    gate.set()
    assert rec.wait_for(20)
    assert rec.items == list(range(20))


def test_burst_from_many_threads_never_exceeds_prefetch_workers(make_pool: Any) -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    pool = make_pool(3, rec)
    start = threading.Barrier(4)

    def burst(base: int) -> None:
        start.wait(WAIT_S)
        for i in range(50):
            pool.submit(base + i)

    threads = [threading.Thread(target=burst, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert rec.wait_for(3)
    load = pool.load()
    assert load.workers == 3
    assert load.running == 3
    assert load.waiting == 197
    gate.set()
    assert rec.wait_for(200)
    assert sorted(rec.items) == sorted(k * 100 + i for k in range(4) for i in range(50))
    assert pool.load().workers == 3


def test_close_hands_back_waiting_items_and_refuses_new_ones(make_pool: Any) -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    pool = make_pool(2, rec)
    for i in range(6):
        pool.submit(i)
    assert rec.wait_for(2)
    assert pool.close() == [2, 3, 4, 5]
    assert pool.submit(99) is Admission.CLOSED
    assert not pool.submit(99)
    assert pool.close() == []
    assert not pool.stopped()  # the running items finish first
    gate.set()
    assert pool.join(deadline_after(WAIT_S)) == 0
    assert pool.stopped()
    assert sorted(rec.items) == [0, 1]
    assert pool.load() == PoolLoad(running=0, waiting=0, workers=2)


def test_execute_raising_is_logged_and_the_worker_keeps_serving(
    make_pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    def execute(item: Any) -> None:
        if item == "bad":
            raise RuntimeError("boom")
        rec(item)

    pool = make_pool(1, execute)
    with caplog.at_level(logging.ERROR, logger="arvo_concurrent.actors.pool"):
        pool.submit("bad")
        pool.submit("good")
        assert rec.wait_for(1)
    assert rec.items == ["good"]
    assert pool.load().workers == 1
    assert any("boom" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_an_idle_worker_stopped_by_someone_else_is_replaced(make_pool: Any) -> None:
    # The host may stop every Pykka actor (ActorRegistry.stop_all()): the next item
    # must neither be lost in a dead inbox nor raise ActorDeadError in the submitter.
    ran_on: list[Any] = []
    done = threading.Semaphore(0)

    def execute(item: Any) -> None:
        ran_on.append(current_worker())

    pool = make_pool(1, execute, lambda item: done.release())
    pool.submit("first")
    assert done.acquire(timeout=WAIT_S)
    assert ran_on[0] is not None
    assert ran_on[0].stop(timeout=WAIT_S)
    assert pool.submit("second")
    assert done.acquire(timeout=WAIT_S)
    assert ran_on[1] is not None
    assert ran_on[1] is not ran_on[0]
    assert pool.load() == PoolLoad(running=0, waiting=0, workers=1)


class CustomAbort(BaseException):
    """A BaseException that is not an Exception."""


def test_a_base_exception_from_execute_or_settle_is_logged_and_the_item_settled(
    make_pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    settled: list[Any] = []

    def execute(item: Any) -> None:
        if item == "abort":
            raise CustomAbort("in execute")
        rec(item)

    def settle(item: Any) -> None:
        settled.append(item)
        if item == "good":
            raise CustomAbort("in settle")

    pool = make_pool(1, execute, settle)
    with caplog.at_level(logging.ERROR, logger="arvo_concurrent.actors.pool"):
        pool.submit("abort")
        pool.submit("good")
        pool.submit("last")
        assert rec.wait_for(2)
    assert rec.items == ["good", "last"]
    assert settled[:2] == ["abort", "good"]
    assert pool.load().workers == 1
    logged = {str(r.exc_info[1]) for r in caplog.records if r.exc_info}
    assert {"in execute", "in settle"} <= logged


def test_join_waits_for_a_starting_worker_only_until_the_deadline(
    make_pool: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    entered, gate = threading.Event(), threading.Event()
    real_on_start = PoolWorker.on_start

    def stalled_on_start(self: PoolWorker) -> None:
        entered.set()
        assert gate.wait(WAIT_S)
        real_on_start(self)

    monkeypatch.setattr(PoolWorker, "on_start", stalled_on_start)
    rec = Recorder()
    pool = make_pool(1, rec)
    pool.submit("item")
    assert entered.wait(WAIT_S)
    assert pool.close() == ["item"]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="arvo_concurrent.actors.pool"):
        assert pool.join(deadline_after(0.05)) == 1
    assert time.monotonic() - started < WAIT_S
    assert any("worker start(s) still pending" in r.getMessage() for r in caplog.records)
    gate.set()
    # The late worker finds its pool closed and stops itself; join sees it stop.
    assert pool.join(deadline_after(WAIT_S)) == 0
    assert pool.stopped()
    assert rec.items == []


def test_max_queued_bounds_the_items_waiting_beyond_the_prefetch_slots(make_pool: Any) -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    pool = make_pool(2, rec, max_queued=1)
    # Two for the slots (their workers may still be starting), one to wait: then full.
    assert [pool.submit(i) for i in range(4)] == [Admission.ACCEPTED] * 3 + [Admission.FULL]
    assert rec.wait_for(2)
    assert pool.load() == PoolLoad(running=2, waiting=1, workers=2)
    assert pool.submit(4) is Admission.FULL
    gate.set()
    assert rec.wait_for(3)
    assert sorted(rec.items) == [0, 1, 2]


class Job:
    """A Work item: records on which thread it ran and settled, and in which order."""

    def __init__(self, log: list[tuple[str, int, int]], done: threading.Event) -> None:
        self.log = log
        self.done = done

    def run(self) -> None:
        self.log.append(("run", id(self), threading.get_ident()))

    def settle(self) -> None:
        self.log.append(("settle", id(self), threading.get_ident()))
        self.done.set()


def test_without_functions_the_pool_runs_work_items_then_settles_them() -> None:
    pool = HandlerPool("t", 1)
    log: list[tuple[str, int, int]] = []
    first, second = threading.Event(), threading.Event()
    try:
        a, b = Job(log, first), Job(log, second)
        assert pool.submit(a)
        assert pool.submit(b)
        assert first.wait(WAIT_S)
        assert second.wait(WAIT_S)
    finally:
        pool.close()
        assert pool.join(deadline_after(WAIT_S)) == 0
    assert [(step, job) for step, job, _ in log] == [
        ("run", id(a)),
        ("settle", id(a)),
        ("run", id(b)),
        ("settle", id(b)),
    ]
    threads = {thread for _, _, thread in log}
    assert threads.isdisjoint({threading.get_ident()})
    assert len(threads) == 1
