"""HandlerPool's lock-free hand-off: the interleavings it must survive (issue 13).

The hot path (queueing behind busy workers, a worker taking its next item) takes no lock,
so these tests force the interleavings it has to get right: a worker going idle while an
item is queued (a lost wake-up would hang), and a submit racing close(). The forced ones
hook the pool's private backlog and wake-up step, on purpose: that is where the races are.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from arvo_concurrent.actors.lifecycle import deadline_after
from arvo_concurrent.actors.pool import Admission, HandlerPool, PoolLoad

WAIT_S = 5.0


class Counted:
    """An execute function that records items and lets a test wait for a count."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, n: int) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.items) >= n, WAIT_S)


def shut(pool: HandlerPool) -> list[Any]:
    dropped = pool.close()
    assert pool.join(deadline_after(WAIT_S)) == 0
    return dropped


def test_an_item_queued_while_its_worker_goes_idle_is_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker has found the backlog empty but is not listed idle yet; the submit then
    # sees no idle worker and wakes no one. The worker must find the item itself.
    ran = Counted()
    pool = HandlerPool("t", 1, ran, lambda item: None)
    deciding, queued = threading.Event(), threading.Event()
    wake = pool._wake

    def hooked_wake(worker: Any) -> None:
        if worker is not None and ran.items == ["first"]:
            deciding.set()
            assert queued.wait(WAIT_S)
        wake(worker)

    monkeypatch.setattr(pool, "_wake", hooked_wake)
    try:
        assert pool.submit("first")
        assert deciding.wait(WAIT_S)
        assert pool._idle == []
        assert pool.submit("second")
        queued.set()
        assert ran.wait_for(2), "lost wake-up: the item waits while its worker is idle"
        assert ran.items == ["first", "second"]
    finally:
        queued.set()
        assert shut(pool) == []


class CloseOnAppend(deque[Any]):
    """A backlog that runs ``before`` or ``after`` the append of the item ``target``."""

    def __init__(self, target: Any, before: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.target = target
        self.before = before
        self.after: Callable[[], object] | None = None

    def append(self, item: Any) -> None:
        hook_first, hook_then = (self.before, self.after) if item is self.target else (None, None)
        if hook_first is not None:
            hook_first()
        super().append(item)
        if hook_then is not None:
            hook_then()


@pytest.mark.parametrize(
    "close_first", [True, False], ids=["close-then-append", "append-then-close"]
)
def test_a_submit_racing_close_is_either_refused_or_handed_back(close_first: bool) -> None:
    # The submit has read the pool open and then appends. If close() emptied the backlog
    # first, the item is refused (CLOSED) and neither runs nor comes back; if the item
    # was queued first, close() hands it back and the submit accepted it.
    gate, entered = threading.Event(), threading.Event()

    def execute(item: Any) -> None:
        entered.set()
        assert gate.wait(WAIT_S)

    pool = HandlerPool("t", 1, execute, lambda item: None)
    target = object()
    closed: list[list[Any]] = []
    backlog = CloseOnAppend(target)
    if close_first:
        backlog.before = lambda: closed.append(pool.close())
    else:
        backlog.after = lambda: closed.append(pool.close())
    pool._backlog = backlog
    try:
        assert pool.submit("running")
        assert entered.wait(WAIT_S)
        assert pool.submit("waiting")
        admission = pool.submit(target)
    finally:
        gate.set()
        assert shut(pool) == []
    if close_first:
        assert admission is Admission.CLOSED
        assert closed == [["waiting"]]
    else:
        assert admission is Admission.ACCEPTED
        assert closed == [["waiting", target]]
    assert pool._late == []
    assert pool.load() == PoolLoad(running=0, waiting=0, workers=1)


def test_many_submitters_each_item_runs_once_in_order() -> None:
    # No sleeps, exact counts: a worker going idle and being woken thousands of times
    # while four threads queue must neither lose nor repeat an item.
    ran = Counted()
    pool = HandlerPool("t", 1, ran, lambda item: None)
    per_thread, threads_n = 2_000, 4
    start = threading.Barrier(threads_n)

    def submit_all(k: int) -> None:
        start.wait(WAIT_S)
        for i in range(per_thread):
            assert pool.submit((k, i))

    threads = [threading.Thread(target=submit_all, args=(k,)) for k in range(threads_n)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S)
        assert ran.wait_for(per_thread * threads_n)
        assert pool.load() == PoolLoad(running=0, waiting=0, workers=1)
    finally:
        assert shut(pool) == []
    assert len(ran.items) == per_thread * threads_n
    for k in range(threads_n):
        # prefetch 1: each submitter's items run in the order it queued them.
        assert [i for j, i in ran.items if j == k] == list(range(per_thread))


def test_submits_racing_close_lose_nothing_and_run_nothing_twice() -> None:
    ran = Counted()
    pool = HandlerPool("t", 2, ran, lambda item: None)
    threads_n, per_thread = 3, 3_000
    start = threading.Barrier(threads_n + 1)
    admissions: dict[int, Admission] = {}

    def submit_all(k: int) -> None:
        start.wait(WAIT_S)
        for i in range(per_thread):
            item = k * per_thread + i
            admissions[item] = pool.submit(item)

    threads = [threading.Thread(target=submit_all, args=(k,)) for k in range(threads_n)]
    for thread in threads:
        thread.start()
    start.wait(WAIT_S)
    assert ran.wait_for(1)
    dropped = pool.close()
    for thread in threads:
        thread.join(WAIT_S)
    assert pool.join(deadline_after(WAIT_S)) == 0
    accepted = {item for item, a in admissions.items() if a is Admission.ACCEPTED}
    refused = {item for item, a in admissions.items() if a is Admission.CLOSED}
    assert len(admissions) == threads_n * per_thread
    assert len(accepted) + len(refused) == len(admissions)
    # Accepted: run exactly once or handed back by close, never both; refused: neither.
    assert len(ran.items) == len(set(ran.items))
    assert len(dropped) == len(set(dropped))
    assert set(ran.items).isdisjoint(dropped)
    assert set(ran.items) | set(dropped) == accepted
    for k in range(threads_n):
        mine = [item for item in dropped if item // per_thread == k]
        assert mine == sorted(mine)  # FIFO: each submitter's in the order it queued them
    assert pool._late == []
