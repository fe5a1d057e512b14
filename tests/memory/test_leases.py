"""Leases: TTL expiry on the injected clock, renewal, ownership, fencing.

The TypeScript TTLMutex tests (memory.test.ts 1-4, 9-11) map onto leases; time
is a ManualScheduler, so nothing sleeps. Times are binary fractions so that the
clock's sums are exact.
"""

from __future__ import annotations

import pytest

from arvo_concurrent.errors import ArvoConcurrentError
from arvo_concurrent.memory import FencingError
from tests.memory.helpers import advance, manual_memory, sync

TTL_MS = 125  # 0.125 s


def test_basic_lock_and_unlock_hold_and_free_the_id() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("id", owner="a") is True
        assert memory.lock("id", owner="b") is False  # locked
        assert memory.unlock("id", owner="a") is True
        assert memory.lock("id", owner="b") is True  # unlocked


def test_an_expired_lease_lets_another_owner_lock() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("id", owner="a")
        advance(memory, clock, 0.1875)  # 150% of the TTL
        assert memory.lock("id", owner="b") is True
        assert memory.lock("id", owner="a") is False  # b holds a fresh lease


def test_a_lease_lasts_exactly_its_ttl_from_the_grant() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        advance(memory, clock, 1.0)
        assert memory.lock("id", owner="a")  # granted at t=1.0, expires at 1.125
        advance(memory, clock, 0.0625)
        assert memory.lock("id", owner="b") is False
        advance(memory, clock, 0.0625)
        assert clock.now() == 1.125
        assert memory.lock("id", owner="b") is True


def test_relocking_by_the_holder_renews_its_lease() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("id", owner="a")
        advance(memory, clock, 0.0625)
        assert memory.lock("id", owner="a") is True  # renewed: now expires at 0.1875
        advance(memory, clock, 0.09375)  # past the first expiry (0.125)
        assert memory.lock("id", owner="b") is False
        memory.write("id", {"still": "mine"}, owner="a")
        advance(memory, clock, 0.03125)  # 0.1875: the renewed lease ends
        assert memory.lock("id", owner="b") is True
        assert memory.read("id") == {"still": "mine"}


def test_locks_are_not_counted_one_unlock_releases() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("id", owner="a")
        assert memory.lock("id", owner="a")
        assert memory.unlock("id", owner="a")
        assert memory.lock("id", owner="b") is True


def test_different_ids_lock_independently() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("id-1", owner="a")
        assert memory.lock("id-2", owner="b") is True  # no wait: lock_max_retries=0
        memory.write("id-1", {"by": "a"}, owner="a")
        memory.write("id-2", {"by": "b"}, owner="b")
        assert memory.unlock("id-1", owner="a")
        assert memory.unlock("id-2", owner="b")
        assert (memory.read("id-1"), memory.read("id-2")) == ({"by": "a"}, {"by": "b"})


def test_the_owner_is_the_calling_thread_by_default() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("id")
        assert memory.lock("id", owner="someone else") is False
        assert memory.unlock("id", owner="someone else") is False
        assert memory.unlock("id") is True


def test_unlock_by_a_non_holder_releases_nothing() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("id", owner="a")
        assert memory.unlock("id", owner="b") is False
        assert memory.lock("id", owner="c") is False  # still a's
        assert memory.unlock("id", owner="a") is True


def test_an_old_holder_can_neither_write_nor_unlock_once_its_lease_was_taken() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"step": "a-1"}, owner="a")
        advance(memory, clock, 0.125)  # a's lease expires (a is still running)
        assert memory.lock("wf", owner="b")
        memory.write("wf", {"step": "b-1"}, owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write("wf", {"step": "a-2"}, owner="a")
        error = caught.value
        assert (error.machine_id, error.owner, error.holder) == ("wf", "a", "b")
        assert "'wf'" in str(error)
        assert isinstance(error, ArvoConcurrentError)
        assert isinstance(error, RuntimeError)
        assert memory.unlock("wf", owner="a") is False
        assert memory.lock("wf", owner="c") is False  # b still holds it
        assert memory.read("wf") == {"step": "b-1"}


def test_a_stale_holder_cannot_overwrite_an_update_made_and_unlocked_since() -> None:
    # The lost update fencing exists for: a reads, stalls past its TTL; b locks,
    # increments and unlocks; a's increment of what it read must not overwrite b's.
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        memory.write("wf", {"count": 0})
        assert memory.lock("wf", owner="a")
        seen_by_a = memory.read("wf", owner="a")
        assert seen_by_a == {"count": 0}
        advance(memory, clock, 0.125)
        assert memory.lock("wf", owner="b")
        seen_by_b = memory.read("wf", owner="b")
        assert seen_by_b == {"count": 0}
        memory.write("wf", {"count": seen_by_b["count"] + 1}, owner="b")
        assert memory.unlock("wf", owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write("wf", {"count": seen_by_a["count"] + 1}, owner="a")
        assert (caught.value.owner, caught.value.holder) == ("a", None)
        assert "has ended" in str(caught.value)
        assert memory.read("wf") == {"count": 1}
        assert memory.unlock("wf", owner="a") is True  # nobody holds it
        memory.write("wf", {"count": 2}, owner="a")  # now a writes as one who never locked
        assert memory.read("wf") == {"count": 2}


def test_a_lapsed_lease_may_still_write_while_nobody_else_locked() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        advance(memory, clock, 0.125)
        memory.write("wf", {"v": "late"}, owner="a")  # nothing anyone wrote is lost
        assert memory.read("wf") == {"v": "late"}


def test_every_new_lease_has_a_larger_fence() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        advance(memory, clock, 0.125)
        assert memory.lock("wf", owner="b")
        with pytest.raises(FencingError) as first:
            memory.write("wf", {}, owner="a")
        advance(memory, clock, 0.125)
        assert memory.lock("wf", owner="c")
        with pytest.raises(FencingError) as second:
            memory.write("wf", {}, owner="a")
        assert second.value.fence > first.value.fence


def test_a_write_by_a_non_holder_of_a_locked_id_is_refused() -> None:
    with manual_memory() as (memory, _clock):
        memory.write("wf", {"v": 1})
        assert memory.lock("wf", owner="a")
        with pytest.raises(FencingError, match="held by 'a'"):
            memory.write("wf", {"v": 2})  # the calling thread never locked it
        assert memory.read("wf") == {"v": 1}


def test_writes_to_an_unlocked_id_are_allowed_from_anyone() -> None:
    with manual_memory() as (memory, _clock):
        memory.write("wf", {"v": 1}, owner="a")
        memory.write("wf", {"v": 2}, owner="b")
        memory.write("wf", {"v": 3})
        assert memory.read("wf") == {"v": 3}


def test_a_holders_write_is_seen_by_every_thread_at_once() -> None:
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": 1}, owner="a")
        assert memory.read("wf") == {"v": 1}  # read as another owner (this thread)


def test_a_holders_last_write_survives_the_expiry_of_its_lease() -> None:
    with manual_memory(lock_max_retries=0, lock_ttl_ms=TTL_MS) as (memory, clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": "last"}, owner="a")
        advance(memory, clock, 0.125)
        assert memory.read("wf") == {"v": "last"}
        assert memory.lock("wf", owner="b")
        assert memory.read("wf") == {"v": "last"}


def test_a_holders_write_reaches_the_next_holder() -> None:
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": 1}, owner="a")
        pending = memory.request_lock("wf", owner="b")
        assert memory.unlock("wf", owner="a")
        assert pending.wait()
        assert memory.read("wf") == {"v": 1}


def test_a_holder_reads_its_own_write() -> None:
    with manual_memory() as (memory, _clock):
        memory.write("wf", {"v": 0})
        assert memory.lock("wf", owner="a")
        assert memory.read("wf", owner="a") == {"v": 0}
        memory.write("wf", {"v": 1}, owner="a")
        assert memory.read("wf", owner="a") == {"v": 1}


def test_a_write_between_a_renewal_request_and_its_wait_is_kept_and_seen() -> None:
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": 1}, owner="a")
        renewal = memory.request_lock("wf", owner="a")
        memory.write("wf", {"v": 2}, owner="a")
        assert renewal.wait() is True
        assert memory.read("wf", owner="a") == {"v": 2}
        assert memory.unlock("wf", owner="a")
        assert memory.read("wf") == {"v": 2}


def test_a_write_between_a_lock_request_and_its_wait_is_kept_and_seen() -> None:
    with manual_memory() as (memory, _clock):
        memory.write("wf", {"v": 1})
        pending = memory.request_lock("wf", owner="a")
        sync(memory)  # granted in the actor, not collected yet
        memory.write("wf", {"v": 2}, owner="a")
        assert pending.wait() is True
        assert memory.read("wf", owner="a") == {"v": 2}  # not the state the grant carried
        assert memory.unlock("wf", owner="a")
        assert memory.read("wf") == {"v": 2}


def test_an_unlock_between_a_renewal_request_and_its_wait_leaves_no_stale_lease() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("wf", owner="a")
        renewal = memory.request_lock("wf", owner="a")
        assert memory.unlock("wf", owner="a")  # releases the renewed lease
        assert memory.lock("wf", owner="b")
        memory.write("wf", {"by": "b"}, owner="b")
        assert renewal.wait() is True  # it was granted, before the unlock
        assert memory.read("wf", owner="a") == {"by": "b"}
        with pytest.raises(FencingError):
            memory.write("wf", {"by": "a"}, owner="a")
        assert memory.unlock("wf", owner="a") is False  # b's lock stays


def test_a_grant_collected_after_a_cleanup_dropped_its_lease_vouches_for_nothing() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        memory.write("wf", {"v": 1})
        pending = memory.request_lock("wf", owner="a")
        sync(memory)  # granted in the actor, not collected yet
        memory.cleanup("wf", owner="c")  # drops a's lease
        assert memory.lock("wf", owner="b")
        memory.write("wf", {"v": 2}, owner="b")
        assert pending.wait() is True
        assert memory.read("wf", owner="a") == {"v": 2}
        with pytest.raises(FencingError):
            memory.write("wf", {"v": 3}, owner="a")
        assert memory.unlock("wf", owner="a") is False
        assert memory.read("wf") == {"v": 2}


def test_after_clear_a_former_holder_holds_nothing() -> None:
    with manual_memory(lock_max_retries=0) as (memory, _clock):
        assert memory.lock("wf", owner="a")
        memory.clear()
        assert memory.lock("wf", owner="b")
        assert memory.unlock("wf", owner="a") is False
        with pytest.raises(FencingError):
            memory.write("wf", {}, owner="a")
        assert memory.unlock("wf", owner="b")


def test_cleanup_while_locked_discards_the_holders_write() -> None:
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": 1}, owner="a")
        memory.cleanup("wf")
        sync(memory)
        assert memory.read("wf") is None
        assert memory.unlock("wf", owner="a") is True  # nobody holds it any more
        assert memory.read("wf") is None
