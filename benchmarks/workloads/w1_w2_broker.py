"""W1 (hop throughput) and W2 (I/O-bound concurrency) on the raw ConcurrentEventBroker.

Both run against the baseline of WORKLOADS.md in the same repetition: one
``ThreadPoolExecutor(max_workers=prefetch)`` per handler, handlers chaining through
``submit``. Events are a tiny frozen struct with only ``to``, created once, so the
figures measure the broker and not event construction.

W1: ``bench.a -> bench.b -> bench.c``, trivial handlers, N initial events published at
once from one thread; the clock runs from the first publish until everything is done.

W2: one handler that sleeps L = 10 ms, N events. Each repetition measures two bursts
of N on the same subscription: the first into a cold pool, whose workers start lazily
during the burst (``cold_efficiency``), and the second into the now-warm pool, the
steady state of a running service (``efficiency``, the headline). The baseline gets
the same two bursts. ``floor_efficiency`` is the machine's own limit: ``prefetch``
bare threads each sleeping their share of L back to back, with no coordination at
all. On a 2-core box, waking 50 threads per round costs measurable time, so the floor
is below 1 at high prefetch; no pool can beat it.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import msgspec

from arvo_concurrent.broker import ConcurrentEventBroker
from benchmarks.core import Figures, Params, Stopwatch, Workload, peak_rss_mb, scaled

_TIMEOUT_S = 600.0
_IO_S = 0.010


class BenchEvent(msgspec.Struct, frozen=True):
    """The least an event needs for the broker: where it goes."""

    to: str


_A, _B, _C = BenchEvent("bench.a"), BenchEvent("bench.b"), BenchEvent("bench.c")
_IO = BenchEvent("bench.io")


# -- W1 ------------------------------------------------------------------------------


def _w1_broker(n: int, prefetch: int) -> float:
    errors: list[Exception] = []
    with ConcurrentEventBroker(on_error=lambda error, event: errors.append(error)) as broker:
        broker.subscribe(lambda event, publish: publish(_B), topic="bench.a", prefetch=prefetch)
        broker.subscribe(lambda event, publish: publish(_C), topic="bench.b", prefetch=prefetch)
        broker.subscribe(lambda event, publish: None, topic="bench.c", prefetch=prefetch)
        with Stopwatch() as watch:
            for _ in range(n):
                broker.publish(_A)
            broker.wait_for_idle(_TIMEOUT_S)
    if errors:
        raise RuntimeError(f"W1 broker run reported {len(errors)} errors: {errors[0]!r}")
    return watch.seconds


class _Countdown:
    """Sets ``done`` after ``n`` calls; what a hand-written executor chain needs to end."""

    def __init__(self, n: int) -> None:
        self.done = threading.Event()
        self._left = n
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()


def _w1_baseline(n: int, prefetch: int) -> float:
    finished = _Countdown(n)
    with (
        ThreadPoolExecutor(prefetch) as pool_a,
        ThreadPoolExecutor(prefetch) as pool_b,
        ThreadPoolExecutor(prefetch) as pool_c,
    ):

        def handler_b() -> None:
            pool_c.submit(finished)

        def handler_a() -> None:
            pool_b.submit(handler_b)

        with Stopwatch() as watch:
            for _ in range(n):
                pool_a.submit(handler_a)
            if not finished.done.wait(_TIMEOUT_S):
                raise TimeoutError("W1 baseline did not finish")
    return watch.seconds


def run_w1(params: Params, scale: float) -> Figures:
    prefetch = int(params["prefetch"])
    n = scaled(20_000, scale, minimum=20)
    wall = _w1_broker(n, prefetch)
    baseline_wall = _w1_baseline(n, prefetch)
    hops = 3 * n
    return {
        "hops_per_s": hops / wall,
        "baseline_hops_per_s": hops / baseline_wall,
        "ratio_to_baseline": baseline_wall / wall,
        "wall_s": wall,
        "baseline_wall_s": baseline_wall,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- W2 ------------------------------------------------------------------------------


def _io(event: object = None, publish: object = None) -> None:
    time.sleep(_IO_S)


def _w2_broker(n: int, prefetch: int) -> tuple[float, float]:
    """Cold and warm burst wall times on one subscription."""
    with ConcurrentEventBroker() as broker:
        broker.subscribe(_io, topic="bench.io", prefetch=prefetch)
        walls = []
        for _ in range(2):
            with Stopwatch() as watch:
                for _ in range(n):
                    broker.publish(_IO)
                broker.wait_for_idle(_TIMEOUT_S)
            walls.append(watch.seconds)
    return walls[0], walls[1]


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
    n = scaled(1_000, scale, minimum=prefetch)
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


WORKLOADS = [
    Workload(
        id="W1",
        name="broker: hop throughput through a 3-handler chain",
        sweep=[{"prefetch": 1}, {"prefetch": 8}],
        run=run_w1,
        headline="hops_per_s",
        tags=frozenset({"broker"}),
    ),
    Workload(
        id="W2",
        name="broker: I/O-bound handler (10 ms), warm pool",
        sweep=[{"prefetch": 1}, {"prefetch": 10}, {"prefetch": 50}],
        run=run_w2,
        headline="efficiency",
        tags=frozenset({"broker"}),
    ),
]
