"""State operations, cleanup, bad input, lifecycle (TypeScript memory.test.ts 5-7, 12-18, 20-21)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from arvo_concurrent.actors.scheduler import TimerHandle, acquire_shared_scheduler
from arvo_concurrent.errors import ArvoConcurrentError, ClosedError
from arvo_concurrent.memory import (
    ConcurrentMachineMemory,
    IMachineMemory,
    MachineIdError,
    MemoryDataError,
    machine_memory,
)
from arvo_concurrent.memory.actor import MemoryActor
from tests.memory.helpers import manual_memory


@pytest.fixture
def memory() -> Iterator[ConcurrentMachineMemory]:
    with manual_memory() as (memory, _clock):
        yield memory


def test_read_of_an_unknown_id_is_none(memory: ConcurrentMachineMemory) -> None:
    assert memory.read("non-existent") is None


def test_written_data_reads_back_equal(memory: ConcurrentMachineMemory) -> None:
    memory.write("id-1", {"count": 42, "nested": {"list": [1, 2, {"a": None}]}})
    assert memory.read("id-1") == {"count": 42, "nested": {"list": [1, 2, {"a": None}]}}


def test_write_stores_a_deep_copy(memory: ConcurrentMachineMemory) -> None:
    data: dict[str, Any] = {"nested": {"values": [1, 2]}}
    memory.write("id-1", data)
    data["nested"]["values"].append(3)
    data["new"] = True
    assert memory.read("id-1") == {"nested": {"values": [1, 2]}}


def test_read_returns_a_deep_copy(memory: ConcurrentMachineMemory) -> None:
    memory.write("id-1", {"nested": {"values": [1, 2]}})
    first = memory.read("id-1")
    assert first is not None
    first["nested"]["values"].append(3)
    assert memory.read("id-1") == {"nested": {"values": [1, 2]}}


def test_a_holder_reads_and_writes_deep_copies_too(memory: ConcurrentMachineMemory) -> None:
    memory.write("id-1", {"values": [1]})
    assert memory.lock("id-1")
    seen = memory.read("id-1")
    assert seen is not None
    seen["values"].append(2)
    data: dict[str, Any] = {"values": [7]}
    memory.write("id-1", data)
    data["values"].append(8)
    assert memory.read("id-1") == {"values": [7]}
    assert memory.unlock("id-1")
    assert memory.read("id-1") == {"values": [7]}


def test_lock_and_unlock_both_return_true(memory: ConcurrentMachineMemory) -> None:
    assert memory.lock("id-1") is True
    assert memory.unlock("id-1") is True


def test_unlock_of_an_id_never_locked_returns_true(memory: ConcurrentMachineMemory) -> None:
    assert memory.unlock("never-locked") is True


def test_cleanup_removes_data_and_lock(memory: ConcurrentMachineMemory) -> None:
    memory.write("id-1", {"count": 1})
    assert memory.lock("id-1", owner="first")
    memory.cleanup("id-1")
    assert memory.read("id-1") is None
    # The lease is gone: another owner gets the lock at once (lock_max_retries would
    # otherwise make it wait), and the first holder's unlock releases nothing.
    assert memory.request_lock("id-1", owner="second").wait()
    assert memory.unlock("id-1", owner="first") is False


def test_a_holder_cleaning_up_keeps_the_lock_until_it_unlocks() -> None:
    with manual_memory() as (memory, _clock):
        memory.write("id-1", {"count": 1})
        assert memory.lock("id-1", owner="holder")
        assert memory.read("id-1", owner="holder") == {"count": 1}  # the grant's state
        waiter = memory.request_lock("id-1", owner="waiter")
        memory.cleanup("id-1", owner="holder")
        assert memory.read("id-1") is None
        assert memory.read("id-1", owner="holder") is None  # not the grant's state any more
        assert not waiter.done()  # no other event runs while the holder finishes
        assert memory.unlock("id-1", owner="holder") is True
        assert waiter.wait() is True


def test_cleanup_disabled_keeps_data_and_lock() -> None:
    with manual_memory(enable_cleanup=False, lock_max_retries=0) as (memory, _clock):
        memory.write("id-1", {"count": 1})
        assert memory.lock("id-1", owner="first")
        memory.cleanup("id-1")
        assert memory.read("id-1") == {"count": 1}
        assert memory.lock("id-1", owner="second") is False


def test_clear_removes_all_data_and_locks() -> None:
    with manual_memory(enable_cleanup=False, lock_max_retries=0) as (memory, _clock):
        memory.write("id-1", {"a": 1})
        memory.write("id-2", {"b": 2})
        assert memory.lock("id-1", owner="first")
        memory.clear()  # whatever enable_cleanup says
        assert memory.read("id-1") is None
        assert memory.read("id-2") is None
        assert memory.lock("id-1", owner="second") is True


OPERATIONS: dict[str, Callable[[ConcurrentMachineMemory, Any], object]] = {
    "read": lambda m, i: m.read(i),
    "write": lambda m, i: m.write(i, {"a": 1}),
    "lock": lambda m, i: m.lock(i),
    "unlock": lambda m, i: m.unlock(i),
    "cleanup": lambda m, i: m.cleanup(i),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("bad_id", ["", None])
def test_an_empty_id_is_refused_naming_the_operation(
    memory: ConcurrentMachineMemory, operation: str, bad_id: object
) -> None:
    with pytest.raises(ValueError, match=f"^Machine ID is required for {operation} operation$"):
        OPERATIONS[operation](memory, bad_id)


def test_a_non_string_id_is_refused_naming_its_type(memory: ConcurrentMachineMemory) -> None:
    with pytest.raises(MachineIdError, match="must be a str for lock operation, got int 7"):
        memory.lock(7)  # type: ignore[arg-type]


def test_writing_something_else_than_a_dict_is_refused(memory: ConcurrentMachineMemory) -> None:
    with pytest.raises(MemoryDataError, match="machine 'id-1' must be a dict, got list") as caught:
        memory.write("id-1", [1, 2])  # type: ignore[arg-type]
    assert isinstance(caught.value, TypeError)
    assert caught.value.machine_id == "id-1"
    assert memory.read("id-1") is None


def test_it_satisfies_the_machine_memory_protocol(memory: ConcurrentMachineMemory) -> None:
    assert isinstance(memory, IMachineMemory)
    assert callable(getattr(memory, "cleanup", None))


def test_every_operation_after_close_raises_closed_error() -> None:
    with manual_memory() as (memory, _clock):
        memory.close()
        memory.close()  # idempotent
        for name, operation in OPERATIONS.items():
            with pytest.raises(ClosedError) as caught:
                operation(memory, "id-1")
            assert caught.value.component == "memory", name
            assert isinstance(caught.value, ArvoConcurrentError)
        with pytest.raises(ClosedError):
            memory.clear()


class CountedShare:
    """A handle on the shared scheduler that counts its releases."""

    def __init__(self) -> None:
        self._inner = acquire_shared_scheduler()
        self.closed = 0

    def now(self) -> float:
        return self._inner.now()

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        return self._inner.call_later(delay_s, callback)

    def close(self, timeout: float | None = None) -> None:
        self.closed += 1
        self._inner.close(timeout)


def test_close_ends_the_actor_thread_and_releases_the_shared_scheduler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Others may use the shared scheduler too: what this memory owes is to end its
    # actor thread and give back its own handle, once.
    shares: list[CountedShare] = []

    def acquire() -> CountedShare:
        shares.append(CountedShare())
        return shares[-1]

    monkeypatch.setattr(machine_memory, "acquire_shared_scheduler", acquire)
    memory = ConcurrentMachineMemory(lock_ttl_ms=60_000)
    with memory:
        assert memory.lock("id-1")  # arms a lease timer on the shared scheduler
        assert [share.closed for share in shares] == [0]
    assert [share.closed for share in shares] == [1]
    # Read after close: an idle memory answers the lock on the caller's thread, so
    # the actor's thread may not have recorded itself before close stopped it.
    actor_threads = list(memory._actor_threads)
    assert len(actor_threads) == 1
    assert not actor_threads[0].is_alive()
    memory.close()
    assert [share.closed for share in shares] == [1]  # close is idempotent


def test_an_idle_memory_answers_a_locked_cycle_on_the_callers_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No hand-off to the actor's thread when it has nothing else to do: the
    # uncontended cycle's cost is the memory's own work (W6a).
    handled_on: list[threading.Thread] = []
    dispatch = MemoryActor._dispatch

    def recording(actor: MemoryActor, message: Any) -> None:
        handled_on.append(threading.current_thread())
        dispatch(actor, message)

    monkeypatch.setattr(MemoryActor, "_dispatch", recording)
    with manual_memory() as (memory, _clock):
        assert memory.lock("id-1")
        memory.write("id-1", {"count": 1})
        assert memory.unlock("id-1")
        assert memory.read("id-1") == {"count": 1}
    assert handled_on[:4] == [threading.current_thread()] * 4
