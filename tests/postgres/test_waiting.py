"""The wait budget rule and the process-local line, on an injected clock (no database)."""

from __future__ import annotations

import threading

import pytest

from arvo_concurrent.errors import ClosedError
from arvo_concurrent.postgres.waiting import Line, Lines, LockWait


def test_the_budget_restarts_at_each_hand_off_and_the_ttl_caps_the_wait() -> None:
    line = Line(handoff_at=0.0)
    wait = LockWait(line, started=0.0, budget_s=1.0, ttl_s=2.5)
    wait.observe(7, now=0.1)
    assert wait.deadline() == 1.0  # first sight of the holder: no hand-off yet
    wait.observe(7, now=0.9)
    assert wait.deadline() == 1.0  # same lease (a renewal keeps the fence)
    wait.observe(8, now=0.9)
    assert wait.deadline() == 1.9  # another holder: a whole budget again
    wait.observe(9, now=1.8)
    assert wait.deadline() == 2.5  # capped by the TTL
    wait.observe(None, now=2.0)
    assert wait.deadline() == 2.5


def test_a_budget_longer_than_the_ttl_is_the_cap() -> None:
    wait = LockWait(Line(handoff_at=0.0), started=0.0, budget_s=5.0, ttl_s=2.0)
    wait.observe(1, now=0.0)
    wait.observe(2, now=1.0)
    assert wait.deadline() == 5.0


def test_zero_budget_means_one_try() -> None:
    wait = LockWait(Line(handoff_at=0.0), started=0.0, budget_s=0.0, ttl_s=10.0)
    wait.observe(1, now=0.0)
    assert wait.deadline() == 0.0


def test_a_hand_off_seen_by_the_head_extends_the_queued_requests() -> None:
    line = Line(handoff_at=0.0)
    head = LockWait(line, started=0.0, budget_s=1.0, ttl_s=10.0)
    queued = LockWait(line, started=0.5, budget_s=1.0, ttl_s=10.0)
    assert queued.deadline() == 1.5
    head.observe(1, now=0.6)
    head.observe(2, now=1.2)
    assert queued.deadline() == 2.2


def test_requests_become_head_in_fifo_order_and_close_wakes_the_queue() -> None:
    lines = Lines(clock=lambda: 0.0)

    def patient(line: Line) -> LockWait:
        return LockWait(line, started=0.0, budget_s=60.0, ttl_s=60.0)

    line, head = lines.enter("wf", patient)
    assert head
    order: list[str] = []
    closed: list[str] = []

    def request(name: str) -> None:
        try:
            mine, is_head = lines.enter("wf", patient)
        except ClosedError:
            closed.append(name)
            return
        order.append(name)
        assert is_head
        lines.leave("wf", mine)

    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=request, args=(name,))
        thread.start()
        threads.append(thread)
        # Start the next request once this one is queued (a bounded poll of the queue).
        while len(line.queue) < len(threads):
            threading.Event().wait(0.001)
    lines.leave("wf", line)
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["first", "second", "third"]
    assert closed == []


def test_close_ends_every_queued_request() -> None:
    lines = Lines(clock=lambda: 0.0)

    def patient(line: Line) -> LockWait:
        return LockWait(line, started=0.0, budget_s=60.0, ttl_s=60.0)

    line, _ = lines.enter("wf", patient)
    errors: list[BaseException] = []

    def request() -> None:
        with pytest.raises(ClosedError) as caught:
            lines.enter("wf", patient)
        errors.append(caught.value)

    thread = threading.Thread(target=request)
    thread.start()
    while not line.queue:
        threading.Event().wait(0.001)
    lines.close()
    thread.join(timeout=10)
    assert len(errors) == 1
