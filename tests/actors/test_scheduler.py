from __future__ import annotations

import threading

import pytest

from arvo_concurrent.actors.scheduler import ThreadScheduler, acquire_shared_scheduler
from arvo_concurrent.errors import ClosedError


def test_thread_scheduler_fires_callbacks_and_leaves_no_thread() -> None:
    sched = ThreadScheduler()
    fired = threading.Event()
    order: list[int] = []

    def second() -> None:
        order.append(2)
        fired.set()

    sched.call_later(0.02, second)
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
