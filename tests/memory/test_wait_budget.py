"""How long a lock request waits: while the queue ahead moves, at most the lease TTL.

A request gives up once the id's lock has not changed hands for one whole wait budget
(the budget restarts at every hand-off), and never waits longer than the lease TTL in
all. Requests are made with ``request_lock`` from one thread; time is a
ManualScheduler, so nothing sleeps. Times are binary fractions so that sums are exact.
"""

from __future__ import annotations

from arvo_concurrent.memory import ConcurrentMachineMemory
from arvo_concurrent.memory.pending import PendingLock
from tests.memory.helpers import advance, lease_records, manual_memory, sync

# A budget of 0.25 s (one retry after 250 ms) and a TTL of 1 s.
SETTINGS = {"lock_max_retries": 1, "lock_initial_delay_ms": 250, "lock_ttl_ms": 1000}


def _queue(memory: ConcurrentMachineMemory, owners: list[str]) -> list[PendingLock]:
    pending = [memory.request_lock("wf", owner=owner) for owner in owners]
    sync(memory)
    assert not any(p.done() for p in pending)
    return pending


def test_the_budget_restarts_when_the_lock_is_handed_to_the_waiter_ahead() -> None:
    with manual_memory(**SETTINGS) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        first, second = _queue(memory, ["first", "second"])
        advance(memory, clock, 0.1875)
        assert memory.unlock("wf", owner="holder")  # hand-off at 0.1875
        assert first.wait() is True
        advance(memory, clock, 0.125)  # 0.3125: past second's budget counted from its request
        assert not second.done()
        advance(memory, clock, 0.0625)  # 0.375: budget from the hand-off not spent yet
        assert not second.done()
        assert memory.unlock("wf", owner="first")
        assert second.wait() is True
        assert memory.unlock("wf", owner="second")


def test_a_hand_off_by_lease_expiry_restarts_the_budget_too() -> None:
    with manual_memory(**SETTINGS) as (memory, clock):
        assert memory.lock("wf", owner="stalled")  # its lease ends at 1.0
        advance(memory, clock, 0.875)
        first, second = _queue(memory, ["first", "second"])
        advance(memory, clock, 0.125)  # 1.0: the lease expires, first gets the lock
        assert first.wait() is True
        advance(memory, clock, 0.1875)  # 1.1875: past second's budget from its request
        assert not second.done()
        advance(memory, clock, 0.0625)  # 1.25: a budget since the hand-off, first stuck
        assert second.wait() is False


def test_a_waiter_gives_up_when_the_holder_makes_no_progress() -> None:
    with manual_memory(**SETTINGS) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        first, second = _queue(memory, ["first", "second"])
        advance(memory, clock, 0.1875)
        assert not first.done()
        advance(memory, clock, 0.0625)  # 0.25: a whole budget without a hand-off
        assert first.wait() is False
        assert second.wait() is False
        assert lease_records(memory)["waiters"] == 0
        assert memory.unlock("wf", owner="holder")


def test_a_waiter_behind_a_moving_queue_waits_at_most_the_lease_ttl() -> None:
    owners = [f"owner-{i}" for i in range(10)]
    with manual_memory(**SETTINGS) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        pending = _queue(memory, owners)
        previous = "holder"
        for index in range(7):  # a hand-off every 0.125 s, well within each budget
            advance(memory, clock, 0.125)
            assert not any(p.done() for p in pending[index:])
            assert memory.unlock("wf", owner=previous)
            assert pending[index].wait() is True
            previous = owners[index]
        advance(memory, clock, 0.125)  # 1.0: the TTL since the requests were made
        assert [p.wait() for p in pending[7:]] == [False, False, False]
        assert memory.unlock("wf", owner=previous)
