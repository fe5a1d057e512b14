"""The memory contract, run against every backend (TypeScript memory.test.ts cases, fencing...).

Each test runs once per backend (``backend`` in the ids): ConcurrentMachineMemory and
PostgresMachineMemory must agree on every behaviour here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from arvo_concurrent import IMachineMemory
from arvo_concurrent.errors import ArvoConcurrentError, ClosedError
from arvo_concurrent.memory import FencingError, MachineIdError, MemoryDataError
from tests.memory_contract.conftest import OpenMemory
from tests.memory_contract.helpers import SHORT_WAIT, lock_after_expiry

NO_WAIT = {"lock_max_retries": 0}


def test_read_of_an_unknown_id_is_none(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        assert memory.read("nobody") is None


def test_written_data_reads_back_equal_and_unshared(open_memory: OpenMemory) -> None:
    state: dict[str, Any] = {"n": 1, "items": [1, "two", None, True, 2.5], "nested": {"k": "v"}}
    with open_memory() as memory:
        memory.write("wf", state)
        state["items"].append("mutated after the write")
        got = memory.read("wf")
        assert got == {"n": 1, "items": [1, "two", None, True, 2.5], "nested": {"k": "v"}}
        got["nested"]["k"] = "mutated after the read"
        assert memory.read("wf")["nested"] == {"k": "v"}


def test_lock_and_unlock_return_true_and_unlock_of_a_free_id_too(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        assert memory.lock("wf", owner="a") is True
        assert memory.lock("wf", owner="b") is False
        assert memory.unlock("wf", owner="a") is True
        assert memory.lock("wf", owner="b") is True
        assert memory.unlock("never-locked", owner="a") is True


def test_an_expired_lease_lets_another_owner_lock(open_memory: OpenMemory) -> None:
    with open_memory(**SHORT_WAIT) as memory:
        assert memory.lock("wf", owner="a")
        assert lock_after_expiry(memory, "wf", "b")
        assert memory.lock("wf", owner="a") is False  # b holds a fresh lease


def test_relocking_renews_and_one_unlock_releases(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        assert memory.lock("wf", owner="a")
        assert memory.lock("wf", owner="a") is True
        memory.write("wf", {"still": "mine"}, owner="a")
        assert memory.unlock("wf", owner="a")
        assert memory.lock("wf", owner="b") is True
        assert memory.read("wf") == {"still": "mine"}


def test_different_ids_lock_independently(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        assert memory.lock("id-1", owner="a")
        assert memory.lock("id-2", owner="b")
        memory.write("id-1", {"by": "a"}, owner="a")
        memory.write("id-2", {"by": "b"}, owner="b")
        assert memory.unlock("id-1", owner="a")
        assert memory.unlock("id-2", owner="b")
        assert (memory.read("id-1"), memory.read("id-2")) == ({"by": "a"}, {"by": "b"})


def test_the_owner_is_the_calling_thread_by_default(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        assert memory.lock("wf")
        other: list[bool] = []
        thread = threading.Thread(target=lambda: other.append(memory.lock("wf")))
        thread.start()
        thread.join()
        assert other == [False]
        assert memory.unlock("wf", owner="someone else") is False
        assert memory.unlock("wf") is True


def test_an_old_holder_can_neither_write_nor_unlock_once_its_lease_was_taken(
    open_memory: OpenMemory,
) -> None:
    with open_memory(**SHORT_WAIT) as memory:
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"step": "a-1"}, owner="a")
        assert lock_after_expiry(memory, "wf", "b")
        memory.write("wf", {"step": "b-1"}, owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write("wf", {"step": "a-2"}, owner="a")
        assert (caught.value.machine_id, caught.value.owner, caught.value.holder) == (
            "wf",
            "a",
            "b",
        )
        assert isinstance(caught.value, ArvoConcurrentError)
        assert memory.unlock("wf", owner="a") is False
        assert memory.read("wf") == {"step": "b-1"}


def test_a_stale_holder_cannot_overwrite_an_update_made_and_unlocked_since(
    open_memory: OpenMemory,
) -> None:
    with open_memory(**SHORT_WAIT) as memory:
        memory.write("wf", {"count": 0})
        assert memory.lock("wf", owner="a")
        seen_by_a = memory.read("wf", owner="a")
        assert lock_after_expiry(memory, "wf", "b")
        memory.write("wf", {"count": memory.read("wf", owner="b")["count"] + 1}, owner="b")
        assert memory.unlock("wf", owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write("wf", {"count": seen_by_a["count"] + 1}, owner="a")
        assert (caught.value.owner, caught.value.holder) == ("a", None)
        assert memory.read("wf") == {"count": 1}
        assert memory.unlock("wf", owner="a") is True  # nobody holds it
        memory.write("wf", {"count": 2}, owner="a")  # as one who never locked
        assert memory.read("wf") == {"count": 2}


def test_a_lapsed_lease_may_still_write_while_nobody_else_locked(
    open_memory: OpenMemory,
) -> None:
    with open_memory(**SHORT_WAIT) as memory:
        assert memory.lock("wf", owner="a")
        assert lock_after_expiry(memory, "probe", "x")  # time passes, no sleep
        assert memory.lock("other", owner="b")
        assert memory.lock("other", owner="c") is False  # ... one budget
        assert lock_after_expiry(memory, "other", "c")  # ... b's lease expired: so did a's
        memory.write("wf", {"v": "late"}, owner="a")
        assert memory.read("wf") == {"v": "late"}


def test_a_write_under_an_older_lease_stays_refused_after_cleanup_and_unlock(
    open_memory: OpenMemory,
) -> None:
    # b took the lock from a (lease expired), wrote, finished the workflow (cleanup)
    # and unlocked: a's late write must not bring the old workflow back.
    with open_memory(**SHORT_WAIT) as memory:
        assert memory.lock("wf", owner="a")
        assert lock_after_expiry(memory, "wf", "b")
        memory.write("wf", {"done": True}, owner="b")
        memory.cleanup("wf", owner="b")
        assert memory.unlock("wf", owner="b")
        with pytest.raises(FencingError) as caught:
            memory.write("wf", {"done": False}, owner="a")
        assert caught.value.holder is None
        assert memory.read("wf") is None


def test_every_new_lease_has_a_larger_fence(open_memory: OpenMemory) -> None:
    with open_memory(**SHORT_WAIT) as memory:
        assert memory.lock("wf", owner="a")
        assert lock_after_expiry(memory, "wf", "b")
        with pytest.raises(FencingError) as first:
            memory.write("wf", {}, owner="a")
        assert lock_after_expiry(memory, "wf", "c")
        with pytest.raises(FencingError) as second:
            memory.write("wf", {}, owner="a")
        assert second.value.fence > first.value.fence


def test_a_write_by_a_non_holder_of_a_locked_id_is_refused(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        memory.write("wf", {"v": 1})
        assert memory.lock("wf", owner="a")
        with pytest.raises(FencingError, match="held by 'a'"):
            memory.write("wf", {"v": 2})
        assert memory.read("wf") == {"v": 1}


def test_writes_to_an_unlocked_id_are_allowed_from_anyone(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        memory.write("wf", {"v": 1}, owner="a")
        memory.write("wf", {"v": 2}, owner="b")
        memory.write("wf", {"v": 3})
        assert memory.read("wf") == {"v": 3}


def test_a_holders_write_reaches_the_next_holder(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        assert memory.lock("wf", owner="a")
        memory.write("wf", {"v": 1}, owner="a")
        assert memory.unlock("wf", owner="a")
        assert memory.lock("wf", owner="b")
        assert memory.read("wf", owner="b") == {"v": 1}


def test_cleanup_removes_data_and_lock(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        memory.write("wf", {"v": 1})
        assert memory.lock("wf", owner="a")
        memory.cleanup("wf", owner="someone else")
        assert memory.read("wf") is None
        assert memory.lock("wf", owner="b") is True


def test_a_holder_cleaning_up_keeps_the_lock_until_it_unlocks(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        memory.write("wf", {"v": 1})
        assert memory.lock("wf", owner="a")
        memory.cleanup("wf", owner="a")
        assert memory.read("wf") is None
        assert memory.lock("wf", owner="b") is False
        assert memory.unlock("wf", owner="a")
        assert memory.lock("wf", owner="b") is True


def test_cleanup_disabled_keeps_data_and_lock(open_memory: OpenMemory) -> None:
    with open_memory(enable_cleanup=False, **NO_WAIT) as memory:
        memory.write("wf", {"v": 1})
        assert memory.lock("wf", owner="a")
        memory.cleanup("wf", owner="someone else")
        assert memory.read("wf") == {"v": 1}
        assert memory.lock("wf", owner="b") is False


def test_clear_removes_every_state_and_lock(open_memory: OpenMemory) -> None:
    with open_memory(**NO_WAIT) as memory:
        memory.write("one", {"v": 1})
        memory.write("two", {"v": 2})
        assert memory.lock("one", owner="a")
        memory.clear()
        assert (memory.read("one"), memory.read("two")) == (None, None)
        assert memory.lock("one", owner="b") is True
        assert memory.unlock("one", owner="a") is False
        with pytest.raises(FencingError):
            memory.write("one", {}, owner="a")


@pytest.mark.parametrize("operation", ["read", "write", "lock", "unlock"])
def test_an_empty_id_is_refused_naming_the_operation(
    open_memory: OpenMemory, operation: str
) -> None:
    with open_memory() as memory:
        call: Callable[[], object] = {
            "read": lambda: memory.read(""),
            "write": lambda: memory.write("", {}),
            "lock": lambda: memory.lock(""),
            "unlock": lambda: memory.unlock(""),
        }[operation]
        with pytest.raises(MachineIdError) as caught:
            call()
        assert str(caught.value) == f"Machine ID is required for {operation} operation"
        assert isinstance(caught.value, ValueError)


def test_writing_something_else_than_a_dict_is_refused(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        with pytest.raises(MemoryDataError, match="'wf'"):
            memory.write("wf", ["not", "a", "dict"])
        assert memory.read("wf") is None


def test_it_satisfies_the_machine_memory_protocol(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        assert isinstance(memory, IMachineMemory)


def test_every_operation_after_close_raises_closed_error(open_memory: OpenMemory) -> None:
    with open_memory() as memory:
        pass
    memory.close()  # idempotent
    for call in (
        lambda: memory.read("wf"),
        lambda: memory.write("wf", {}),
        lambda: memory.lock("wf"),
        lambda: memory.unlock("wf"),
        memory.clear,
    ):
        with pytest.raises(ClosedError):
            call()


def test_a_waiter_is_granted_the_lock_when_the_holder_unlocks(open_memory: OpenMemory) -> None:
    # A budget far beyond the test: only the unlock can end the wait in time.
    with open_memory(lock_max_retries=1, lock_initial_delay_ms=30_000) as memory:
        assert memory.lock("wf", owner="holder")
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(memory.lock("wf", owner="w")))
        waiter.start()
        memory.write("wf", {"by": "holder"}, owner="holder")
        assert memory.unlock("wf", owner="holder")
        waiter.join(timeout=20)
        assert result == [True]
        assert memory.read("wf", owner="w") == {"by": "holder"}


def test_lock_returns_false_once_the_budget_is_spent(open_memory: OpenMemory) -> None:
    with open_memory(lock_max_retries=2, lock_initial_delay_ms=20, lock_backoff_exponent=2) as m:
        assert m.lock("wf", owner="holder")
        assert m.lock("wf", owner="waiter") is False  # after about 20 + 40 ms
        assert m.unlock("wf", owner="holder")


def test_every_waiter_gets_the_lock_once_in_turn_and_no_two_overlap(
    open_memory: OpenMemory,
) -> None:
    waiters = 6
    with open_memory(lock_max_retries=1, lock_initial_delay_ms=30_000) as memory:
        assert memory.lock("wf", owner="holder")
        inside = threading.Lock()
        overlaps: list[str] = []
        granted: list[str] = []

        def take(owner: str) -> None:
            assert memory.lock("wf", owner=owner)
            if not inside.acquire(blocking=False):
                overlaps.append(owner)
            granted.append(owner)
            state = memory.read("wf", owner=owner) or {"seen": []}
            memory.write("wf", {"seen": [*state["seen"], owner]}, owner=owner)
            inside.release()
            assert memory.unlock("wf", owner=owner)

        threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(waiters)]
        for thread in threads:
            thread.start()
        assert memory.unlock("wf", owner="holder")
        for thread in threads:
            thread.join(timeout=30)
        assert overlaps == []
        assert sorted(granted) == [f"w{i}" for i in range(waiters)]
        assert memory.read("wf")["seen"] == granted


def test_eight_threads_times_fifty_locked_increments_lose_nothing(
    open_memory: OpenMemory,
) -> None:
    threads, times = 8, 50
    with open_memory(lock_max_retries=10, lock_initial_delay_ms=100) as memory:
        memory.write("counter", {"count": 0})
        refused: list[int] = []
        start = threading.Barrier(threads)

        def work() -> None:
            start.wait()
            misses = 0
            for _ in range(times):
                if not memory.lock("counter"):
                    misses += 1
                    continue
                state = memory.read("counter")
                memory.write("counter", {"count": state["count"] + 1})
                assert memory.unlock("counter")
            refused.append(misses)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=50)
        assert refused == [0] * threads
        assert memory.read("counter") == {"count": threads * times}
