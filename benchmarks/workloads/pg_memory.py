"""PG6: the PostgreSQL machine memory beside the in-process one (needs a server).

The server is ``ARVO_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
each repetition uses a schema of its own, dropped afterwards.

* PG6a (W6a on PostgreSQL): uncontended lock/read/write/unlock cycles on distinct ids
  from one thread, PostgreSQL beside ``ConcurrentMachineMemory`` (``ratio_to_baseline``
  = PostgreSQL / in-process, lower than 1).
* PG6b (W6b across processes): P processes x T threads x N locked increments of one id,
  each ``lock_and_read`` then ``write_and_unlock`` (the memory's one-round-trip forms of
  lock + read and write + unlock). Counts lost updates and refused locks;
  ``worst_lock_wait_ms`` is the longest ``lock_and_read`` call; ``handoff_p50_us``/``p99``
  is "unlock -> next holder" when the next holder is in another process: the holder
  stamps ``time.monotonic()`` (one clock for every process of the machine) into the
  state it writes as it unlocks, and the next holder reads it as soon as
  ``lock_and_read`` returned. Goals: 2 processes with 0 lost and a worst lock wait
  <= 50 ms; hand-off p50 <= 2 ms. The 4-process row is the contention test's figure;
  ``local=0`` turns off the process-local queue (every thread waits in the database).

Run a worker by hand: ``python -m benchmarks.workloads.pg_memory JSON``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from arvo_concurrent.memory import ConcurrentMachineMemory
from arvo_concurrent.postgres import PostgresMachineMemory
from benchmarks.core import Figures, Params, Stopwatch, Workload, scaled
from benchmarks.workloads.pg_server import DSN, drop_schema

_ROOT = Path(__file__).resolve().parents[2]
# As W6b: a budget only a bug can spend.
_PATIENT = {"lock_max_retries": 10, "lock_initial_delay_ms": 100, "lock_backoff_exponent": 1.5}


def _cycles(memory: Any, cycles: int) -> float:
    ids = [f"pg6a-{uuid.uuid4().hex[:6]}-{i}" for i in range(cycles)]
    with Stopwatch() as watch:
        for machine_id in ids:
            memory.lock(machine_id)
            state = memory.read(machine_id) or {"count": 0}
            memory.write(machine_id, {"count": state["count"] + 1})
            memory.unlock(machine_id)
    return cycles / watch.seconds


def run_pg6a(params: Params, scale: float) -> Figures:
    cycles = scaled(2_000, scale, minimum=20)
    schema = f"arvo_bench_{uuid.uuid4().hex[:10]}"
    try:
        with PostgresMachineMemory(DSN, schema=schema) as memory:
            rate = _cycles(memory, cycles)
    finally:
        drop_schema(schema)
    with ConcurrentMachineMemory() as memory:
        baseline = _cycles(memory, cycles)
    return {
        "cycles_per_s": rate,
        "baseline_cycles_per_s": baseline,
        "ratio_to_baseline": rate / baseline,
    }


def _worker(args: dict[str, Any]) -> None:
    """One process of PG6b: print ready, wait for go, increment, print the figures."""
    machine_id = "pg6b"
    pid = os.getpid()
    threads, times = int(args["threads"]), int(args["times"])
    waits: list[float] = []
    handoffs: list[float] = []
    refused = [0]
    guard = threading.Lock()
    settings = {**_PATIENT, "queue_locally": bool(args["local"])}
    with PostgresMachineMemory(args["dsn"], schema=args["schema"], **settings) as memory:
        go = threading.Barrier(threads + 1)

        def work() -> None:
            go.wait()
            mine_waits, mine_handoffs, done = [], [], 0
            while done < times:
                asked = time.monotonic()
                granted, state = memory.lock_and_read(machine_id)
                got = time.monotonic()
                mine_waits.append(got - asked)
                if not granted:
                    with guard:
                        refused[0] += 1
                    continue
                state = state or {"count": 0}
                if state.get("pid") not in (None, pid):
                    mine_handoffs.append(got - state["released_at"])
                memory.write_and_unlock(
                    machine_id,
                    {"count": state["count"] + 1, "pid": pid, "released_at": time.monotonic()},
                )
                done += 1
            with guard:
                waits.extend(mine_waits)
                handoffs.extend(mine_handoffs)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for thread in pool:
            thread.start()
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
        go.wait()
        for thread in pool:
            thread.join()
    print(json.dumps({"refused": refused[0], "waits": waits, "handoffs": handoffs}), flush=True)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * p / 100) - 1))]


def run_pg6b(params: Params, scale: float) -> Figures:
    processes, threads = int(params["processes"]), int(params["threads"])
    times = scaled(200, scale, minimum=5)
    schema = f"arvo_bench_{uuid.uuid4().hex[:10]}"
    local = int(params.get("local", 1))
    args = {"dsn": DSN, "schema": schema, "threads": threads, "times": times, "local": local}
    PostgresMachineMemory(DSN, schema=schema).close()  # migrate once, before the race
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.workloads.pg_memory", json.dumps(args)],
            cwd=_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for process in running:
            assert process.stdout is not None
            json.loads(process.stdout.readline())
        with Stopwatch() as watch:
            for process in running:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            results = [json.loads(p.communicate(timeout=600)[0]) for p in running]
        with PostgresMachineMemory(DSN, schema=schema) as memory:
            final = (memory.read("pg6b") or {"count": 0})["count"]
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
        drop_schema(schema)
    waits = [w for r in results for w in r["waits"]]
    handoffs = [h for r in results for h in r["handoffs"]] or [0.0]
    total = processes * threads * times
    return {
        "increments_per_s": total / watch.seconds,
        "wall_s": watch.seconds,
        "lost_updates": float(total - final),
        "failed_acquisitions": float(sum(r["refused"] for r in results)),
        "worst_lock_wait_ms": max(waits) * 1e3,
        "lock_wait_p50_us": statistics.median(waits) * 1e6,
        "lock_wait_p99_us": _percentile(waits, 99) * 1e6,
        "handoff_p50_us": _percentile(handoffs, 50) * 1e6,
        "handoff_p99_us": _percentile(handoffs, 99) * 1e6,
        "cross_process_handoffs": float(len(handoffs)),
    }


def footprint_pg6a(params: Params, scale: float) -> None:
    schema = f"arvo_bench_{uuid.uuid4().hex[:10]}"
    try:
        with PostgresMachineMemory(DSN, schema=schema) as memory:
            _cycles(memory, scaled(2_000, scale, minimum=20))
    finally:
        drop_schema(schema)


def footprint_pg6b(params: Params, scale: float) -> None:
    """One process's side of PG6b: its threads' locked increments, in this process."""
    schema = f"arvo_bench_{uuid.uuid4().hex[:10]}"
    settings = {**_PATIENT, "queue_locally": bool(int(params.get("local", 1)))}
    times = scaled(200, scale, minimum=5)
    try:
        with PostgresMachineMemory(DSN, schema=schema, **settings) as memory:

            def work() -> None:
                for _ in range(times):
                    granted, state = memory.lock_and_read("pg6b")
                    if granted:
                        state = state or {"count": 0}
                        memory.write_and_unlock("pg6b", {"count": state["count"] + 1})

            pool = [threading.Thread(target=work) for _ in range(int(params["threads"]))]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
    finally:
        drop_schema(schema)


WORKLOADS = [
    Workload(
        id="PG6a",
        name="PostgreSQL memory: lock/read/write/unlock cycles vs the in-process memory",
        sweep=[{}],
        run=run_pg6a,
        headline="ratio_to_baseline",
        tags=frozenset({"memory", "postgres"}),
        footprint=footprint_pg6a,
    ),
    Workload(
        id="PG6b",
        name="PostgreSQL memory: processes x 8 threads x 200 locked increments of one id",
        sweep=[
            {"processes": 2, "threads": 8},
            {"processes": 2, "threads": 8, "local": 0},
            {"processes": 4, "threads": 8},
        ],
        run=run_pg6b,
        headline="handoff_p50_us",
        tags=frozenset({"memory", "postgres"}),
        footprint=footprint_pg6b,
    ),
]

if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
