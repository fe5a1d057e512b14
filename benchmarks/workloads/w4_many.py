"""W4: many workflows, M = 500 independent instances started at once on one broker.

Each instance of the resumable ``arvo.orc.bench.sequence`` makes 3 sequential calls
to ``com.bench.svc`` (blocks 1 ms). All M are started from one thread with
``resolve_async``; the clock runs from the first start until the last future is done.
The ``prefetch`` parameter applies to both handlers. ``completed`` counts the
instances whose future returned their completion event (it must equal M).

``ideal_workflows_per_s`` is the tighter of two limits, both measured or computed in
the same repetition:

* the service's: ``prefetch`` workers each doing 1 ms calls back to back,
  ``prefetch / (3 x 1 ms)`` workflows per second;
* the interpreter's: the Python work of a workflow (4 resumable steps with their
  lock/read/write/unlock, 3 service executions) runs under one GIL, so no number of
  threads runs it faster than one thread does. It is measured by running the same M
  workflows one after the other on this thread, handlers called directly (no broker),
  the service without its sleep.

``efficiency`` is ``workflows_per_s / ideal_workflows_per_s``.
"""

from __future__ import annotations

from arvo_concurrent import ConcurrentMachineMemory, create_concurrent_event_broker
from benchmarks.core import Figures, Params, Stopwatch, Workload, scaled
from benchmarks.workloads.bench_arvo import sequence_init, sequence_resumable, service_handler

_TIMEOUT_S = 120.0
_SVC_S = 0.001
_CALLS = 3
_DONE = "arvo.orc.bench.sequence.done"
_SEQUENCE_SOURCE = "arvo.orc.bench.sequence"
_SVC = "com.bench.svc"


def _serial_seconds(m: int) -> float:
    """Run ``m`` workflows one after the other on this thread, without the broker."""
    service = service_handler(0.0)
    with ConcurrentMachineMemory() as memory:
        workflow = sequence_resumable(memory)
        inits = [sequence_init(_CALLS) for _ in range(m)]
        with Stopwatch() as watch:
            for init in inits:
                events = workflow.execute(init)
                while events and events[0].to == _SVC:
                    events = workflow.execute(service.execute(events[0])[0])
    return watch.seconds


def _broker_run(m: int, prefetch: int) -> Figures:
    """``m`` workflows started at once on one broker."""
    with ConcurrentMachineMemory() as memory:
        handlers = [
            {"handler": sequence_resumable(memory), "prefetch": prefetch},
            {"handler": service_handler(_SVC_S), "prefetch": prefetch},
        ]
        with create_concurrent_event_broker(handlers) as handle:
            inits = [sequence_init(_CALLS) for _ in range(m)]
            with Stopwatch() as watch:
                futures = [handle.resolve_async(init, missing="none") for init in inits]
                finals = [future.result(_TIMEOUT_S) for future in futures]
            stats = handle.handler_stats(_SEQUENCE_SOURCE)
    completed = sum(1 for final in finals if final is not None and final.type == _DONE)
    return {
        "wall_s": watch.seconds,
        "completed": float(completed),
        "handler_retries": float(stats.retries if stats is not None else 0),
    }


def run_w4(params: Params, scale: float) -> Figures:
    prefetch = int(params["prefetch"])
    m = scaled(500, scale, minimum=5)
    figures = _broker_run(m, prefetch)
    serial = _serial_seconds(m)
    rate = m / figures["wall_s"]
    ideal = min(m / serial, prefetch / (_CALLS * _SVC_S))
    return {
        "workflows_per_s": rate,
        "efficiency": rate / ideal,
        "ideal_workflows_per_s": ideal,
        **figures,
    }


def footprint_w4(params: Params, scale: float) -> None:
    _broker_run(scaled(500, scale, minimum=5), int(params["prefetch"]))


WORKLOADS = [
    Workload(
        id="W4",
        name="workflow: 500 instances x 3 sequential service calls",
        sweep=[{"prefetch": 10}, {"prefetch": 50}],
        run=run_w4,
        headline="workflows_per_s",
        tags=frozenset({"workflow"}),
        footprint=footprint_w4,
        highlights=("efficiency", "completed"),
    ),
]
