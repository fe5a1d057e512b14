"""W2: I/O-bound concurrency, one handler that blocks L = 10 ms, N = 1,000 events.

Each repetition measures two bursts of N on one subscription of the raw
``ConcurrentEventBroker``: the first into a cold pool, whose workers start lazily during
the burst (``cold_efficiency``), and the second into the now-warm pool, the steady
state of a running service (``efficiency``, the headline). The baseline of
WORKLOADS.md, a ``ThreadPoolExecutor(max_workers=prefetch)``, gets the same two bursts.
``floor_efficiency`` is the machine's own limit: ``prefetch`` bare threads each sleeping
their share of L back to back, with no coordination at all. On a 2-core box, waking 50
threads per round costs measurable time, so the floor is below 1 at high prefetch; no
pool can beat it. Ideal time = ceil(N / prefetch) x L.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import msgspec

from arvo_concurrent.broker import ConcurrentEventBroker
from benchmarks.core import Figures, Params, Stopwatch, Workload, scaled

_TIMEOUT_S = 600.0
_IO_S = 0.010
_N = 1_000


class BenchEvent(msgspec.Struct, frozen=True):
    """The least an event needs for the broker: where it goes."""

    to: str


_IO = BenchEvent("bench.io")


def _io(event: object = None, publish: object = None) -> None:
    time.sleep(_IO_S)


def _w2_broker(n: int, prefetch: int, bursts: int = 2) -> list[float]:
    """The wall time of each burst on one subscription: cold first, then warm."""
    with ConcurrentEventBroker() as broker:
        broker.subscribe(_io, topic="bench.io", prefetch=prefetch)
        walls = []
        for _ in range(bursts):
            with Stopwatch() as watch:
                for _ in range(n):
                    broker.publish(_IO)
                broker.wait_for_idle(_TIMEOUT_S)
            walls.append(watch.seconds)
    return walls


def _w2_baseline(n: int, prefetch: int) -> tuple[float, float]:
    walls = []
    with ThreadPoolExecutor(prefetch) as pool:
        for _ in range(2):
            with Stopwatch() as watch:
                wait([pool.submit(_io) for _ in range(n)], timeout=_TIMEOUT_S)
            walls.append(watch.seconds)
    return walls[0], walls[1]


def _w2_floor(n: int, prefetch: int) -> float:
    """``prefetch`` bare threads sleeping their share back to back, released at once."""
    shares = [n // prefetch + (1 if k < n % prefetch else 0) for k in range(prefetch)]
    start = threading.Barrier(prefetch + 1)

    def sleeper(share: int) -> None:
        start.wait(_TIMEOUT_S)
        for _ in range(share):
            time.sleep(_IO_S)

    threads = [threading.Thread(target=sleeper, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    with Stopwatch() as watch:
        start.wait(_TIMEOUT_S)
        for thread in threads:
            thread.join(_TIMEOUT_S)
    return watch.seconds


def run_w2(params: Params, scale: float) -> Figures:
    prefetch = int(params["prefetch"])
    n = scaled(_N, scale, minimum=prefetch)
    ideal = math.ceil(n / prefetch) * _IO_S
    cold, warm = _w2_broker(n, prefetch)
    baseline_cold, baseline_warm = _w2_baseline(n, prefetch)
    floor = _w2_floor(n, prefetch)
    return {
        "efficiency": ideal / warm,
        "baseline_efficiency": ideal / baseline_warm,
        "cold_efficiency": ideal / cold,
        "baseline_cold_efficiency": ideal / baseline_cold,
        "floor_efficiency": ideal / floor,
        "wall_s": warm,
        "ideal_wall_s": ideal,
        "baseline_wall_s": baseline_warm,
        "cold_wall_s": cold,
    }


def footprint_w2(params: Params, scale: float) -> None:
    prefetch = int(params["prefetch"])
    _w2_broker(scaled(_N, scale, minimum=prefetch), prefetch, bursts=1)


WORKLOADS = [
    Workload(
        id="W2",
        name="broker: I/O-bound handler (10 ms), cold and warm pool",
        sweep=[{"prefetch": 1}, {"prefetch": 10}, {"prefetch": 50}],
        run=run_w2,
        headline="efficiency",
        tags=frozenset({"broker"}),
        footprint=footprint_w2,
        highlights=("cold_efficiency", "baseline_efficiency", "floor_efficiency"),
    ),
]
