"""W7: broker lifecycle, the seed's per-call pattern, 200 cycles.

Each cycle builds four handlers and a broker for them (prefetch 5, 3, 10 and 2:
``com.bench.a``, ``com.bench.b``, ``com.bench.svc`` and the resumable
``arvo.orc.bench.sequence``), ``resolve()``s one request through ``a -> b``, and
closes the broker, as a service that creates a broker per incoming call does (see
``examples/approval_workflow.py``). The machine memory outlives the cycles, as it
does there. The clock covers the whole cycle, handler construction included.

``threads_left`` counts the threads alive after the last close that were not alive
before the first cycle; each gets a brief join first, because an actor's thread ends
just after its stop was acknowledged. It must be 0.
"""

from __future__ import annotations

import threading
import time

from arvo_concurrent import ConcurrentMachineMemory, create_concurrent_event_broker
from benchmarks.core import Figures, LatencyHistogram, Params, Stopwatch, Workload, median, scaled
from benchmarks.workloads.bench_arvo import (
    chain_handlers,
    chain_request,
    sequence_resumable,
    service_handler,
)

_TIMEOUT_S = 10.0
_JOIN_S = 2.0
_PREFETCHES = (5, 3, 10, 2)
_REPLY = "evt.bench.b.success"


def _cycle(memory: ConcurrentMachineMemory) -> None:
    """Create a broker with four handlers, resolve one request through two, close it."""
    handlers = [*chain_handlers(), service_handler(0.0), sequence_resumable(memory)]
    entries = [{"handler": h, "prefetch": p} for h, p in zip(handlers, _PREFETCHES, strict=True)]
    with create_concurrent_event_broker(entries) as handle:
        final = handle.resolve(chain_request(), timeout=_TIMEOUT_S)
    if final is None or final.type != _REPLY:
        raise RuntimeError(f"W7 resolve returned {final!r}, not {_REPLY}")


def _threads_left(before: set[threading.Thread]) -> int:
    """New threads still alive after a shared join deadline of ``_JOIN_S``."""
    deadline = time.monotonic() + _JOIN_S
    new = [t for t in threading.enumerate() if t not in before]
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for thread in new if thread.is_alive())


def run_w7(params: Params, scale: float) -> Figures:
    cycles = scaled(200, scale, minimum=3)
    durations: list[float] = []
    latencies = LatencyHistogram()
    with ConcurrentMachineMemory() as memory:
        before = set(threading.enumerate())
        for _ in range(cycles):
            with Stopwatch() as watch:
                _cycle(memory)
            durations.append(watch.seconds)
            latencies.record(watch.seconds)
        left = _threads_left(before)
    return {
        "ms_per_cycle": median(durations) * 1e3,
        "p99_ms_per_cycle": latencies.percentile(99) * 1e3,
        "threads_left": float(left),
    }


def footprint_w7(params: Params, scale: float) -> None:
    with ConcurrentMachineMemory() as memory:
        for _ in range(scaled(200, scale, minimum=3)):
            _cycle(memory)


WORKLOADS = [
    Workload(
        id="W7",
        name="broker: create, resolve through 2 of 4 handlers, close; 200 cycles",
        sweep=[{}],
        run=run_w7,
        headline="ms_per_cycle",
        tags=frozenset({"broker"}),
        footprint=footprint_w7,
        highlights=("p99_ms_per_cycle", "threads_left"),
    ),
]
