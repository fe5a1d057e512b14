"""W6: machine memory operations, against a ``threading.Lock``-per-id + dict baseline.

W6a: uncontended lock/read/write/unlock cycles on distinct ids from one thread.
``floor_cycles_per_s`` is a bare two-thread round trip (a request and a reply through
two ``queue.SimpleQueue``, what an actor's inbox is), measured in the same repetition:
the floor for a memory that hands each cycle to its actor's thread once, and
``ratio_to_floor`` is the memory's cycles/s over it. The memory's caller handles its
own message while the actor is idle (``arvo_concurrent.actors.inline``), so an
uncontended cycle makes no hand-off at all and can beat that floor; ``us_per_cycle``
is the cycle's whole cost, which is the memory's own work (leases, fencing, copies).
The floor swings with where its two threads run (a hand-off within one core costs
about a quarter of one across idle cores); ``us_per_cycle`` does not.

W6b: 16 threads each doing 200 increments of one id under its lock, with the memory's
default settings (3 lock retries from 100 ms by 1.5: at most 475 ms of waiting per
``lock`` call). Counts lost updates and failed acquisitions, the hand-off latency
(from a holder's ``unlock`` call to the next holder's ``lock`` returning) and the
worst lock wait (the longest ``lock`` call, granted or not). The baseline's locks
wait at most as long.

Both memories store deep copies (the baseline copies as well), so the comparison is
the price of the actor, the leases and the fencing, not of the copies.
"""

from __future__ import annotations

import inspect
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from arvo_concurrent.memory import ConcurrentMachineMemory
from arvo_concurrent.memory.copying import copy_state
from benchmarks.core import Figures, LatencyHistogram, Params, Stopwatch, Workload, scaled


def _default_budget_s() -> float:
    """The memory's default lock wait budget (100 + 150 + 225 ms), for the baseline's locks."""
    defaults = inspect.signature(ConcurrentMachineMemory).parameters
    retries = int(defaults["lock_max_retries"].default)
    delay_ms = float(defaults["lock_initial_delay_ms"].default)
    exponent = float(defaults["lock_backoff_exponent"].default)
    return sum(delay_ms * exponent**i for i in range(retries)) / 1000


class Memory(Protocol):
    def read(self, machine_id: str) -> dict[str, Any] | None: ...
    def write(self, machine_id: str, data: dict[str, Any]) -> None: ...
    def lock(self, machine_id: str) -> bool: ...
    def unlock(self, machine_id: str) -> bool: ...


class LockDictMemory:
    """The floor for in-process locking: a ``threading.Lock`` per id around a dict."""

    def __init__(self, wait_s: float) -> None:
        self._wait_s = wait_s
        self._states: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_of(self, machine_id: str) -> threading.Lock:
        lock = self._locks.get(machine_id)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(machine_id, threading.Lock())
        return lock

    def read(self, machine_id: str) -> dict[str, Any] | None:
        return copy_state(self._states.get(machine_id))

    def write(self, machine_id: str, data: dict[str, Any]) -> None:
        self._states[machine_id] = copy_state(data)

    def lock(self, machine_id: str) -> bool:
        return self._lock_of(machine_id).acquire(timeout=self._wait_s)

    def unlock(self, machine_id: str) -> bool:
        self._lock_of(machine_id).release()
        return True


def cycles_per_s(memory: Memory, cycles: int) -> float:
    """Lock/read/write/unlock ``cycles`` distinct ids; return cycles per second."""
    ids = [f"w6a-{i}" for i in range(cycles)]
    with Stopwatch() as watch:
        for machine_id in ids:
            memory.lock(machine_id)
            state = memory.read(machine_id) or {"count": 0}
            memory.write(machine_id, {"count": state["count"] + 1})
            memory.unlock(machine_id)
    return cycles / watch.seconds


def round_trips_per_s(cycles: int) -> float:
    """Round trips per second between this thread and a bare echo thread."""
    requests: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    replies: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (item := requests.get()) is not None:
            replies.put(item)

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        with Stopwatch() as watch:
            for i in range(cycles):
                requests.put(i)
                replies.get()
    finally:
        requests.put(None)
        thread.join()
    return cycles / watch.seconds


def run_w6a(params: Params, scale: float) -> Figures:
    cycles = scaled(20_000, scale, minimum=50)
    floor = round_trips_per_s(cycles)
    with ConcurrentMachineMemory() as memory:
        rate = cycles_per_s(memory, cycles)
    baseline = cycles_per_s(LockDictMemory(wait_s=1.0), cycles)
    return {
        "cycles_per_s": rate,
        "ratio_to_floor": rate / floor,
        "us_per_cycle": 1e6 / rate,
        "ratio_to_baseline": rate / baseline,
        "floor_cycles_per_s": floor,
        "baseline_cycles_per_s": baseline,
    }


def footprint_w6a(params: Params, scale: float) -> None:
    with ConcurrentMachineMemory() as memory:
        cycles_per_s(memory, scaled(20_000, scale, minimum=50))


class _Contention:
    """16 threads incrementing one id under its lock, with hand-off timing."""

    def __init__(self, memory: Memory, threads: int, increments: int) -> None:
        self.memory = memory
        self.threads = threads
        self.increments = increments
        self.failed = 0
        self.handoffs = LatencyHistogram()
        self.waits = LatencyHistogram()
        self.worst_wait_s = 0.0
        self._released_at: float | None = None
        self._start = threading.Barrier(threads)
        self._count_lock = threading.Lock()

    def _worker(self) -> None:
        self._start.wait()
        done = 0
        while done < self.increments:
            started = time.perf_counter()
            acquired = self.memory.lock("w6b")
            self._record_wait(time.perf_counter() - started, acquired)
            if not acquired:
                continue
            self._record_handoff()
            state = self.memory.read("w6b") or {"count": 0}
            self.memory.write("w6b", {"count": state["count"] + 1})
            # Only the holder touches _released_at: it is set under the lock and read by
            # the next holder once it has the lock.
            self._released_at = time.perf_counter()
            self.memory.unlock("w6b")
            done += 1

    def _record_wait(self, seconds: float, acquired: bool) -> None:
        self.waits.record(seconds)
        with self._count_lock:
            self.worst_wait_s = max(self.worst_wait_s, seconds)
            self.failed += 0 if acquired else 1

    def _record_handoff(self) -> None:
        released_at, self._released_at = self._released_at, None
        if released_at is not None:
            self.handoffs.record(time.perf_counter() - released_at)

    def run(self) -> float:
        workers = [threading.Thread(target=self._worker) for _ in range(self.threads)]
        with Stopwatch() as watch:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        return watch.seconds

    def lost_updates(self) -> int:
        final = self.memory.read("w6b") or {"count": 0}
        return self.threads * self.increments - int(final["count"])


def _contend(make: Callable[[], Memory], threads: int, increments: int) -> dict[str, float]:
    contention = _Contention(make(), threads, increments)
    wall = contention.run()
    return {
        "wall_s": wall,
        "lost_updates": float(contention.lost_updates()),
        "failed_acquisitions": float(contention.failed),
        "handoff_p50_us": contention.handoffs.percentile(50) * 1e6,
        "lock_wait_p99_ms": contention.waits.percentile(99) * 1e3,
        "lock_wait_max_ms": contention.worst_wait_s * 1e3,
    }


def run_w6b(params: Params, scale: float) -> Figures:
    threads = int(params["threads"])
    increments = scaled(200, scale, minimum=5)
    with ConcurrentMachineMemory() as memory:
        ours = _contend(lambda: memory, threads, increments)
    baseline = _contend(lambda: LockDictMemory(_default_budget_s()), threads, increments)
    figures: Figures = dict(ours)
    figures.update({f"baseline_{name}": value for name, value in baseline.items()})
    figures["wall_s_ratio_to_baseline"] = baseline["wall_s"] / ours["wall_s"]
    return figures


def footprint_w6b(params: Params, scale: float) -> None:
    with ConcurrentMachineMemory() as memory:
        _contend(lambda: memory, int(params["threads"]), scaled(200, scale, minimum=5))


WORKLOADS = [
    Workload(
        id="W6a",
        name="memory: uncontended lock/read/write/unlock cycles",
        sweep=[{"threads": 1}],
        run=run_w6a,
        headline="cycles_per_s",
        tags=frozenset({"memory"}),
        footprint=footprint_w6a,
        highlights=("ratio_to_floor", "us_per_cycle", "ratio_to_baseline"),
    ),
    Workload(
        id="W6b",
        name="memory: 16 threads x 200 locked increments of one id",
        sweep=[{"threads": 16}],
        run=run_w6b,
        headline="wall_s",
        tags=frozenset({"memory"}),
        footprint=footprint_w6b,
        highlights=("lost_updates", "failed_acquisitions", "lock_wait_max_ms", "handoff_p50_us"),
    ),
]
