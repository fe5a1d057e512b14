"""W5: resolve latency, initiator -> ``com.bench.a`` -> ``com.bench.b`` -> initiator.

Two trivial ArvoEventHandlers (``a`` forwards the request, ``b`` replies to the
initiator: see :mod:`benchmarks.workloads.bench_arvo`) on one broker; N = 1,000
``resolve()`` calls one after the other from one thread, each timed from the call to
its return (the request event is built before the clock starts). A few untimed
resolves first start the lazily created handler pools, so the figures are those of a
running service.
"""

from __future__ import annotations

import time

from arvo_concurrent import create_concurrent_event_broker
from benchmarks.core import Figures, LatencyHistogram, Params, Workload, scaled
from benchmarks.otel_modes import broker_options
from benchmarks.workloads.bench_arvo import chain_handlers, chain_request

_TIMEOUT_S = 10.0
_WARMUP = 20
_REPLY = "evt.bench.b.success"


def run_w5(params: Params, scale: float) -> Figures:
    latencies = LatencyHistogram()
    total = _resolves(scaled(1_000, scale, minimum=20), int(params["prefetch"]), latencies)
    return {
        "p50_us": latencies.percentile(50) * 1e6,
        "p99_us": latencies.percentile(99) * 1e6,
        "mean_us": total / latencies.count * 1e6,
    }


def footprint_w5(params: Params, scale: float) -> None:
    _resolves(scaled(1_000, scale, minimum=20), int(params["prefetch"]), LatencyHistogram())


def _resolves(n: int, prefetch: int, latencies: LatencyHistogram) -> float:
    """``n`` timed resolves after the warm-up; returns their total time."""
    handlers = [{"handler": h, "prefetch": prefetch} for h in chain_handlers()]
    total = 0.0
    with create_concurrent_event_broker(handlers, **broker_options()) as handle:
        for _ in range(_WARMUP):
            handle.resolve(chain_request(), timeout=_TIMEOUT_S)
        for i in range(n):
            request = chain_request(i)
            started = time.perf_counter()
            final = handle.resolve(request, timeout=_TIMEOUT_S)
            elapsed = time.perf_counter() - started
            if final is None or final.type != _REPLY:
                raise RuntimeError(f"W5 resolve {i} returned {final!r}, not {_REPLY}")
            latencies.record(elapsed)
            total += elapsed
    return total


WORKLOADS = [
    Workload(
        id="W5",
        name="workflow: resolve() latency through a 2-handler chain",
        sweep=[{"prefetch": 1}],
        run=run_w5,
        headline="p50_us",
        tags=frozenset({"workflow"}),
        footprint=footprint_w5,
        highlights=("p99_us",),
    ),
]
