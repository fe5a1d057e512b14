"""W4: many workflows, M = 500 independent instances started at once on one broker.

Each instance of the resumable ``arvo.orc.bench.sequence`` makes 3 sequential calls
to ``com.bench.svc`` (blocks 1 ms). All M are started from one thread with
``resolve_async``; the clock runs from the first start until the last future is done.
The ``prefetch`` parameter applies to both handlers. ``completed`` counts the
instances whose future returned their completion event (it must equal M).

``ideal_wall_s`` is the service's own floor, ``ceil(3 M / prefetch) x 1 ms``: the
calls packed onto ``prefetch`` workers with no cost of their own. The workflow steps
(4 per instance, each a lock/read/write/unlock round) are CPU work on top of that, so
at a high prefetch the floor is far below what 2 cores can do.
"""

from __future__ import annotations

import math

from arvo_concurrent import ConcurrentMachineMemory, create_concurrent_event_broker
from benchmarks.core import Figures, Params, Stopwatch, Workload, scaled
from benchmarks.workloads.bench_arvo import sequence_init, sequence_resumable, service_handler

_TIMEOUT_S = 120.0
_SVC_S = 0.001
_CALLS = 3
_DONE = "arvo.orc.bench.sequence.done"
_SEQUENCE_SOURCE = "arvo.orc.bench.sequence"


def run_w4(params: Params, scale: float) -> Figures:
    prefetch = int(params["prefetch"])
    m = scaled(500, scale, minimum=5)
    with ConcurrentMachineMemory() as memory:
        handlers = [
            {"handler": sequence_resumable(memory), "prefetch": prefetch},
            {"handler": service_handler(_SVC_S), "prefetch": prefetch},
        ]
        with create_concurrent_event_broker(handlers) as handle:
            inits = [sequence_init(_CALLS) for _ in range(m)]
            with Stopwatch() as watch:
                futures = [handle.resolve_async(init) for init in inits]
                finals = [future.result(_TIMEOUT_S) for future in futures]
            stats = handle.handler_stats(_SEQUENCE_SOURCE)
    completed = sum(1 for final in finals if final is not None and final.type == _DONE)
    return {
        "workflows_per_s": m / watch.seconds,
        "wall_s": watch.seconds,
        "ideal_wall_s": math.ceil(_CALLS * m / prefetch) * _SVC_S,
        "completed": float(completed),
        "handler_retries": float(stats.retries if stats is not None else 0),
    }


WORKLOADS = [
    Workload(
        id="W4",
        name="workflow: 500 instances x 3 sequential service calls",
        sweep=[{"prefetch": 10}, {"prefetch": 50}],
        run=run_w4,
        headline="workflows_per_s",
        tags=frozenset({"workflow"}),
    ),
]
