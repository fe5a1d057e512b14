"""Holders whose lease lapsed: fenced out after a cleanup too, and no record kept for long.

A lease that ends without its holder's unlock (it expired, or another owner's cleanup
dropped it) leaves a holder that may still write. Its write must be refused once a
later lease was granted, even after that holder cleaned the workflow up and unlocked
(else the late write resurrects a finished workflow). What the memory remembers for
that is bounded in time: one TTL after the lapse, or after the id's last grant.
Time is a ManualScheduler; times are binary fractions so that sums are exact.
"""

from __future__ import annotations

import pytest

from arvo_concurrent.memory import FencingError
from tests.memory.helpers import advance, lease_records, manual_memory, sync

TTL_MS = 125  # 0.125 s
TTL_S = 0.125


def test_a_stale_holder_cannot_resurrect_a_workflow_cleaned_up_since() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"step": 1}, owner="a")
        advance(memory, clock, TTL_S)  # a's lease expires while a still runs
        assert memory.lock("wf", owner="b")
        assert memory.read("wf", owner="b") == {"step": 1}
        memory.write("wf", {"step": 2, "done": True}, owner="b")
        memory.cleanup("wf", owner="b")
        assert memory.unlock("wf", owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write("wf", {"step": 2, "done": True}, owner="a")
        assert (caught.value.machine_id, caught.value.owner, caught.value.holder) == (
            "wf",
            "a",
            None,
        )
        assert memory.read("wf") is None  # nothing was resurrected


def test_a_waiter_granted_at_the_expiry_fences_out_the_stale_holder_after_cleanup() -> None:
    # The workflow case: b's request waits for a's lock and gets it when a's lease expires.
    with manual_memory(lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"step": 1}, owner="a")
        waiting = memory.request_lock("wf", owner="b")
        sync(memory)
        advance(memory, clock, TTL_S)
        assert waiting.wait() is True
        memory.write("wf", {"done": True}, owner="b")
        memory.cleanup("wf", owner="b")
        assert memory.unlock("wf", owner="b")
        with pytest.raises(FencingError):
            memory.write("wf", {"done": True}, owner="a")
        assert memory.read("wf") is None


def test_a_holder_dropped_by_another_owners_cleanup_is_fenced_out_by_a_later_lease() -> None:
    # The facade's vouched-for record of a's lease must lose its vouching, not its fence.
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, _clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"by": "a"}, owner="a")
        memory.cleanup("wf", owner="c")  # drops a's lease under it
        assert memory.lock("wf", owner="d")
        memory.write("wf", {"by": "d"}, owner="d")
        memory.cleanup("wf", owner="d")
        assert memory.unlock("wf", owner="d")
        with pytest.raises(FencingError):
            memory.write("wf", {"by": "a"}, owner="a")
        assert memory.read("wf") is None
        assert memory.unlock("wf", owner="a") is True  # nobody holds it


def test_a_lapsed_fence_is_kept_as_long_as_a_later_lease_could_be_in_force() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        advance(memory, clock, TTL_S)  # a lapses at 0.125: kept until 0.25 at least
        advance(memory, clock, 0.09375)
        assert memory.lock("wf", owner="b")  # at 0.21875: kept until 0.34375
        memory.cleanup("wf", owner="b")
        assert memory.unlock("wf", owner="b")
        advance(memory, clock, 0.09375)  # 0.3125: past a's TTL after its lapse
        with pytest.raises(FencingError):
            memory.write("wf", {"by": "a"}, owner="a")
        advance(memory, clock, 0.03125)  # 0.34375: one TTL after the last grant
        memory.write("wf", {"by": "a"}, owner="a")  # forgotten: as by an owner who never locked
        assert memory.read("wf") == {"by": "a"}


def test_leases_that_expire_without_an_unlock_leave_no_records_behind() -> None:
    ids = [f"wf-{i}" for i in range(2000)]
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        for index, machine_id in enumerate(ids):
            assert memory.lock(machine_id, owner=f"crashed-{index}")
            if index % 2:
                memory.write(machine_id, {"n": index}, owner=f"crashed-{index}")
        assert lease_records(memory)["facade_leases"] == len(ids)
        advance(memory, clock, TTL_S)  # every lease expires, no unlock ever comes
        lapsed = lease_records(memory)
        assert lapsed["leases"] == 0
        assert lapsed["lapsed_fences"] == len(ids)  # kept for the holders that may still write
        advance(memory, clock, TTL_S)
        assert set(lease_records(memory).values()) == {0}
        assert memory.read("wf-1") == {"n": 1}  # the states themselves stay
        assert memory.lock("wf-1", owner="next")  # and the ids work as before
        memory.write("wf-1", {"n": 2}, owner="next")
        assert memory.unlock("wf-1", owner="next")
        assert memory.read("wf-1") == {"n": 2}


def test_leases_that_end_by_unlock_or_cleanup_leave_no_records_behind() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, _clock):
        for index in range(100):
            machine_id = f"wf-{index}"
            assert memory.lock(machine_id, owner="worker")
            memory.write(machine_id, {"n": index}, owner="worker")
            if index % 2:
                memory.cleanup(machine_id, owner="worker")
            assert memory.unlock(machine_id, owner="worker")
        assert set(lease_records(memory).values()) == {0}
