from __future__ import annotations

import threading

import pytest

from arvo_concurrent.actors.scheduler import (
    ManualScheduler,
    ThreadScheduler,
    acquire_shared_scheduler,
)
from arvo_concurrent.errors import ClosedError


def test_manual_scheduler_runs_callbacks_in_deadline_order_only_when_due() -> None:
    sched = ManualScheduler()
    ran: list[str] = []
    sched.call_later(0.3, lambda: ran.append("c"))
    sched.call_later(0.1, lambda: ran.append("a"))
    sched.call_later(0.2, lambda: ran.append("b"))
    assert sched.advance(0.15) == 1
    assert ran == ["a"]
    assert sched.advance(1.0) == 2
    assert ran == ["a", "b", "c"]
    assert sched.now() == pytest.approx(1.15)


def test_manual_scheduler_cancelled_callback_never_runs() -> None:
    sched = ManualScheduler()
    ran: list[int] = []
    handle = sched.call_later(0.1, lambda: ran.append(1))
    handle.cancel()
    assert sched.pending() == 0
    sched.advance(1)
    assert ran == []


def test_manual_scheduler_callback_scheduled_by_a_callback_runs_in_the_same_advance() -> None:
    sched = ManualScheduler()
    ran: list[float] = []

    def first() -> None:
        ran.append(sched.now())
        sched.call_later(0.1, lambda: ran.append(sched.now()))

    sched.call_later(0.1, first)
    sched.advance(0.5)
    assert ran == [pytest.approx(0.1), pytest.approx(0.2)]


def test_manual_scheduler_refuses_to_go_back_in_time() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualScheduler().advance(-1)


def test_thread_scheduler_fires_callbacks_and_leaves_no_thread() -> None:
    sched = ThreadScheduler()
    fired = threading.Event()
    order: list[int] = []
    sched.call_later(0.02, lambda: (order.append(2), fired.set()))
    sched.call_later(0.0, lambda: order.append(1))
    assert fired.wait(5)
    assert order == [1, 2]
    sched.close(timeout=5)


def test_thread_scheduler_survives_a_failing_callback(caplog: pytest.LogCaptureFixture) -> None:
    sched = ThreadScheduler()
    fired = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    sched.call_later(0.0, boom)
    sched.call_later(0.01, fired.set)
    assert fired.wait(5)
    sched.close(timeout=5)
    assert "Scheduled callback" in caplog.text


def test_thread_scheduler_rejects_work_after_close() -> None:
    sched = ThreadScheduler()
    sched.close()
    with pytest.raises(ClosedError, match="scheduler is closed"):
        sched.call_later(0, lambda: None)


def test_thread_scheduler_close_drops_pending_callbacks() -> None:
    sched = ThreadScheduler()
    ran: list[int] = []
    sched.call_later(60, lambda: ran.append(1))
    sched.close(timeout=5)
    assert ran == []


def test_shared_scheduler_thread_ends_with_its_last_user() -> None:
    first = acquire_shared_scheduler()
    second = acquire_shared_scheduler()
    fired = threading.Event()
    first.call_later(0, fired.set)
    assert fired.wait(5)
    first.close()
    first.close()  # idempotent: releases one reference only once
    again = threading.Event()
    second.call_later(0, again.set)
    assert again.wait(5)
    second.close(timeout=5)
    assert not any(t.name == "arvo-scheduler" and t.is_alive() for t in threading.enumerate())
