"""Many threads, one memory, the real scheduler: no update lost (TS memory.test.ts 8, 19)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from arvo_concurrent.memory import ConcurrentMachineMemory


@pytest.fixture
def memory() -> Iterator[ConcurrentMachineMemory]:
    # A patient budget (about 11 s): a refused lock here would be a bug, not a slow machine.
    with ConcurrentMachineMemory(
        lock_max_retries=10, lock_initial_delay_ms=100, lock_backoff_exponent=1.5
    ) as memory:
        yield memory


def _increment(memory: ConcurrentMachineMemory, machine_id: str, times: int) -> int:
    """Locked read-modify-write ``times`` times; returns how many locks were refused."""
    refused = 0
    for _ in range(times):
        if not memory.lock(machine_id):
            refused += 1
            continue
        state = memory.read(machine_id) or {"count": 0}
        memory.write(machine_id, {"count": state["count"] + 1})
        assert memory.unlock(machine_id)
    return refused


def _run_threads(count: int, work: list[tuple[str, int]], memory: ConcurrentMachineMemory) -> int:
    start = threading.Barrier(count)
    refused: list[int] = []

    def worker(index: int) -> None:
        start.wait()
        machine_id, times = work[index]
        refused.append(_increment(memory, machine_id, times))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == count, "a worker raised"
    return sum(refused)


def test_sixteen_threads_times_two_hundred_locked_increments_lose_nothing(
    memory: ConcurrentMachineMemory,
) -> None:
    refused = _run_threads(16, [("counter", 200)] * 16, memory)
    assert refused == 0
    assert memory.read("counter") == {"count": 16 * 200}


def test_ten_concurrent_locked_increments_are_serialised(memory: ConcurrentMachineMemory) -> None:
    assert _run_threads(10, [("counter", 1)] * 10, memory) == 0
    assert memory.read("counter") == {"count": 10}


def test_fifty_operations_over_five_ids_each_count_ten(memory: ConcurrentMachineMemory) -> None:
    ids = [f"id-{i % 5}" for i in range(50)]
    assert _run_threads(50, [(machine_id, 1) for machine_id in ids], memory) == 0
    assert [memory.read(f"id-{i}") for i in range(5)] == [{"count": 10}] * 5


def test_no_two_holders_ever_overlap(memory: ConcurrentMachineMemory) -> None:
    holder: list[int | None] = [None]
    overlaps: list[tuple[int, int | None]] = []
    refused: list[int] = []
    start = threading.Barrier(8)

    def worker(index: int) -> None:
        start.wait()
        for _ in range(50):
            if not memory.lock("exclusive"):
                refused.append(index)
                continue
            if holder[0] is not None:
                overlaps.append((index, holder[0]))
            holder[0] = index
            # A round trip to the actor inside the critical section hands the GIL to
            # the other threads, so a second holder would have every chance to enter.
            memory.write("exclusive", {"holder": index})
            if memory.read("exclusive") != {"holder": index} or holder[0] != index:
                overlaps.append((index, holder[0]))
            holder[0] = None
            if not memory.unlock("exclusive"):
                refused.append(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert refused == []
    assert holder == [None]  # every worker got through all 50 rounds without raising


def test_a_reader_never_sees_the_state_go_back(memory: ConcurrentMachineMemory) -> None:
    # Every read must see every write that returned before it: with one writer counting
    # up under the lock, what each reader sees can only grow.
    rounds = 300
    memory.write("monotonic", {"v": 0})
    start = threading.Barrier(4)
    written = threading.Event()
    refused: list[int] = []
    went_back: list[tuple[int, int]] = []
    finally_seen: list[Any] = []

    def writer() -> None:
        start.wait()
        try:
            for value in range(1, rounds + 1):
                if not memory.lock("monotonic"):
                    refused.append(value)
                    continue
                memory.write("monotonic", {"v": value})
                if not memory.unlock("monotonic"):
                    refused.append(value)
        finally:
            written.set()

    def reader() -> None:
        start.wait()
        last = 0
        while not written.is_set():
            state = memory.read("monotonic") or {"v": -1}
            if state["v"] < last:
                went_back.append((last, state["v"]))
            last = max(last, state["v"])
        finally_seen.append(memory.read("monotonic"))

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    assert went_back == []
    assert finally_seen == [{"v": rounds}] * 3
