"""Where W6a's time goes beyond the one thread hand-off per cycle.

    python -m benchmarks.handoff --cycles 20000 --repeat 5

Runs, interleaved, ``--repeat`` times each, and prints the median (and range) of:

- ``floor``: W6a's floor, a bare round trip through two ``queue.SimpleQueue``;
- ``echo actor``: a Pykka actor of the library that answers every message at once
  through the memory's ``Reply``: the cost of the messaging mechanism alone;
- ``skeleton``: the cheapest memory with one hand-off per cycle (one request, a bare
  lock as reply, a state snapshot in the grant, the two copies, a one-way write and
  unlock; no leases, fencing, timers, FIFO queue or input checks);
- ``memory``: W6a's lock/read/write/unlock cycle on ``ConcurrentMachineMemory``.

Per row: round trips or cycles per second, the ratio to the floor of the same
repetition, the process's CPU time per cycle (both threads, user and system) and its
context switches per cycle. Pin the process to one core (``taskset -c 1``) to see
the hand-off within a core; unpinned, the two threads may each have a core and the
floor swings with the machine's load. See benchmarks/NOTES.md.
"""

from __future__ import annotations

import argparse
import queue
import resource
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from arvo_concurrent.actors.base import LibraryActor
from arvo_concurrent.memory import ConcurrentMachineMemory
from arvo_concurrent.memory.copying import copy_state
from arvo_concurrent.memory.reply import Reply
from benchmarks.core import median
from benchmarks.workloads.w6_memory import cycles_per_s, round_trips_per_s


class _Echo(LibraryActor):
    def on_receive(self, message: Any) -> None:
        message.set(None)


def echo_round_trips_per_s(count: int) -> float:
    """Round trips per second to a library actor that answers through a ``Reply`` at once."""
    ref = _Echo.start()
    try:
        start = time.perf_counter()
        for _ in range(count):
            reply: Reply[None] = Reply()
            ref.tell(reply)
            reply.wait(10.0)
        return count / (time.perf_counter() - start)
    finally:
        ref.stop()


class SkeletonMemory:
    """One hand-off per cycle and nothing else: what any actor-based memory costs at least."""

    def __init__(self) -> None:
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._snapshots: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._serve, name="skeleton-memory")
        self._thread.start()

    def _serve(self) -> None:
        states: dict[str, Any] = {}
        locked: set[str] = set()
        while (message := self._inbox.get())[0] != "stop":
            kind, machine_id, payload = message
            if kind == "lock":
                locked.add(machine_id)
                payload.set(states.get(machine_id))
            elif kind == "write":
                states[machine_id] = payload
            else:
                locked.discard(machine_id)

    def lock(self, machine_id: str) -> bool:
        reply: Reply[Any] = Reply()
        self._inbox.put(("lock", machine_id, reply))
        self._snapshots[machine_id] = reply.wait(10.0)
        return True

    def read(self, machine_id: str) -> dict[str, Any] | None:
        state: dict[str, Any] | None = copy_state(self._snapshots[machine_id])
        return state

    def write(self, machine_id: str, data: dict[str, Any]) -> None:
        self._inbox.put(("write", machine_id, copy_state(data)))

    def unlock(self, machine_id: str) -> bool:
        self._snapshots.pop(machine_id, None)
        self._inbox.put(("unlock", machine_id, None))
        return True

    def close(self) -> None:
        self._inbox.put(("stop",))
        self._thread.join()


def _skeleton(count: int) -> float:
    memory = SkeletonMemory()
    try:
        return cycles_per_s(memory, count)
    finally:
        memory.close()


def _memory(count: int) -> float:
    with ConcurrentMachineMemory() as memory:
        return cycles_per_s(memory, count)


ROWS: dict[str, Callable[[int], float]] = {
    "floor": round_trips_per_s,
    "echo actor": echo_round_trips_per_s,
    "skeleton": _skeleton,
    "memory": _memory,
}


def _measured(run: Callable[[int], float], count: int) -> tuple[float, float, float]:
    """Rate, CPU microseconds per cycle and context switches per cycle of one run."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    rate = run(count)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    switches = (after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw)
    return rate, cpu_s / count * 1e6, switches / count


def measure(count: int, repeat: int) -> dict[str, dict[str, list[float]]]:
    """Every row ``repeat`` times, interleaved: rate, ratio to floor, CPU us, switches."""
    figures: dict[str, dict[str, list[float]]] = {
        name: {"per_s": [], "ratio_to_floor": [], "cpu_us": [], "switches": []} for name in ROWS
    }
    for _ in range(repeat):
        floor = 0.0
        for name, run in ROWS.items():
            rate, cpu_us, switches = _measured(run, count)
            floor = rate if name == "floor" else floor
            row = figures[name]
            row["per_s"].append(rate)
            row["ratio_to_floor"].append(rate / floor)
            row["cpu_us"].append(cpu_us)
            row["switches"].append(switches)
    return figures


def _cell(values: list[float], form: str) -> str:
    low, high = min(values), max(values)
    return f"{median(values):{form}} ({low:{form}}-{high:{form}})"


def main(argv: Sequence[str] | None = None) -> int:
    """Prints one line per row: medians and ranges over the repetitions."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handoff", description=__doc__)
    parser.add_argument("--cycles", type=int, default=20_000, help="per run (default 20000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per row (default 5)")
    options = parser.parse_args(argv)
    figures = measure(options.cycles, options.repeat)
    print(f"{options.cycles:,} cycles per run, medians (ranges) of {options.repeat} runs")
    print(f"{'row':<11} {'per_s':>26} {'ratio_to_floor':>20} {'cpu_us':>20} {'switches':>17}")
    for name, row in figures.items():
        rate, ratio = _cell(row["per_s"], ",.0f"), _cell(row["ratio_to_floor"], ".2f")
        cpu, switches = _cell(row["cpu_us"], ".1f"), _cell(row["switches"], ".1f")
        print(f"{name:<11} {rate:>26} {ratio:>20} {cpu:>20} {switches:>17}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
