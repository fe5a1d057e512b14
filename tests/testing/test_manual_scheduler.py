"""ManualScheduler: the public test clock of ``arvo_concurrent.testing``."""

from __future__ import annotations

import pytest

from arvo_concurrent.testing import ManualScheduler


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
