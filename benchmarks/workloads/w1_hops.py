"""W1: hop throughput through ``bench.a -> bench.b -> bench.c``, N = 20,000 initial events.

Three rows, each measured against baselines in the same repetition:

* **W1**, as WORKLOADS.md defines it: three real Arvo handlers
  (``create_arvo_event_handler`` with contracts: the input is validated, a new event is
  built and validated at every hop; :func:`~benchmarks.workloads.bench_arvo.hop_handlers`)
  on ``create_concurrent_event_broker``. Baselines: the same handlers on a
  ``ThreadPoolExecutor(max_workers=prefetch)`` per handler, each stage submitting its
  outputs to the next (``baseline_*``), and on one thread, one call after the other,
  no queue at all (``serial_*``: the interpreter's cost of the handlers themselves).
* **W1p**: the raw ``ConcurrentEventBroker`` with plain functions and a tiny event
  struct, a new one per hop: the broker's own cost per hop. Same baselines.
* **W1s**: W1p at N = 5,000, 20,000 and 80,000, for the cost per hop as N grows
  (``us_per_hop`` must stay flat: the cost is linear in N). Its pools are warmed up
  first (1,000 events, untimed), so that the workers' start, a fixed cost, does not
  make the small N look dearer per hop.

The N initial events are built before the clock starts; each run publishes them from
one thread at once, and the clock stops when the last hop is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from arvo_concurrent import IArvoEventHandler, create_concurrent_event_broker
from arvo_concurrent.broker import ConcurrentEventBroker
from benchmarks.core import Figures, Params, Stopwatch, Workload, scaled
from benchmarks.otel_modes import broker_options
from benchmarks.workloads.bench_arvo import HOP_A, hop_handlers, hop_request

_TIMEOUT_S = 600.0
_N = 20_000
_HOPS = 3
_WARM_UP = 1_000


class BenchEvent(msgspec.Struct, frozen=True):
    """The least an event needs for the broker: where it goes, and a payload."""

    to: str
    n: int


class _Countdown:
    """Sets ``done`` after ``n`` calls: how a hand-written executor chain knows it ended."""

    def __init__(self, n: int) -> None:
        self.done = threading.Event()
        self._left = n
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()


def _figures(n: int, wall: float, baseline: float, serial: float) -> Figures:
    hops = _HOPS * n
    return {
        "hops_per_s": hops / wall,
        "ratio_to_baseline": baseline / wall,
        "ratio_to_serial": serial / wall,
        "baseline_hops_per_s": hops / baseline,
        "serial_hops_per_s": hops / serial,
        "wall_s": wall,
        "baseline_wall_s": baseline,
        "serial_wall_s": serial,
    }


# -- W1: Arvo handlers ---------------------------------------------------------------


def arvo_broker_wall(events: Sequence[Any], prefetch: int) -> float:
    """Seconds the broker takes to run ``events`` through the three Arvo handlers."""
    errors: list[Exception] = []
    handlers = [{"handler": h, "prefetch": prefetch} for h in hop_handlers()]
    with create_concurrent_event_broker(
        handlers, on_broker_error=lambda error, event: errors.append(error), **broker_options()
    ) as handle:
        broker = handle.broker
        with Stopwatch() as watch:
            for event in events:
                broker.publish(event)
            broker.wait_for_idle(_TIMEOUT_S)
    if errors:
        raise RuntimeError(f"W1 broker run reported {len(errors)} errors: {errors[0]!r}")
    return watch.seconds


def _arvo_executors(events: Sequence[Any], prefetch: int) -> float:
    """The same handlers, one ``ThreadPoolExecutor`` each, chained through ``submit``."""
    handlers = hop_handlers()
    finished = _Countdown(len(events))
    pools = [ThreadPoolExecutor(prefetch) for _ in handlers]
    by_source = {h.source: (h, pool) for h, pool in zip(handlers, pools, strict=True)}
    failures: list[BaseException] = []

    def run(handler: IArvoEventHandler, event: Any) -> None:
        try:
            outputs = handler.execute(event)
        except BaseException as exc:
            failures.append(exc)
            finished.done.set()
            raise
        if not outputs:
            finished()
        for output in outputs:
            target, pool = by_source[output.to]
            pool.submit(run, target, output)

    first, first_pool = by_source[HOP_A]
    try:
        with Stopwatch() as watch:
            for event in events:
                first_pool.submit(run, first, event)
            if not finished.done.wait(_TIMEOUT_S):
                raise TimeoutError("W1 executor baseline did not finish")
    finally:
        for pool in pools:
            pool.shutdown()
    if failures:
        raise RuntimeError(f"W1 executor baseline failed: {failures[0]!r}")
    return watch.seconds


def _arvo_serial(events: Sequence[Any]) -> float:
    """The same handlers called one after the other on this thread."""
    by_source = {h.source: h for h in hop_handlers()}
    with Stopwatch() as watch:
        for event in events:
            todo = [event]
            while todo:
                current = todo.pop()
                todo.extend(by_source[current.to].execute(current))
    return watch.seconds


def run_w1(params: Params, scale: float) -> Figures:
    prefetch = int(params["prefetch"])
    events = [hop_request(i) for i in range(scaled(_N, scale, minimum=20))]
    wall = arvo_broker_wall(events, prefetch)
    baseline = _arvo_executors(events, prefetch)
    serial = _arvo_serial(events)
    return _figures(len(events), wall, baseline, serial)


def footprint_w1(params: Params, scale: float) -> None:
    events = [hop_request(i) for i in range(scaled(_N, scale, minimum=20))]
    arvo_broker_wall(events, int(params["prefetch"]))


# -- W1p / W1s: plain functions ------------------------------------------------------


def _forward(to: str) -> Callable[[Any, Callable[[Any], None]], None]:
    def handler(event: Any, publish: Callable[[Any], None]) -> None:
        publish(BenchEvent(to, event.n))

    return handler


def _last(event: Any, publish: Callable[[Any], None]) -> None:
    return None


def _plain_events(n: int) -> list[BenchEvent]:
    return [BenchEvent("bench.a", i) for i in range(n)]


def _plain_broker(events: Sequence[BenchEvent], prefetch: int, warm_up: int = 0) -> float:
    errors: list[Exception] = []
    with ConcurrentEventBroker(on_error=lambda error, event: errors.append(error)) as broker:
        broker.subscribe(_forward("bench.b"), topic="bench.a", prefetch=prefetch)
        broker.subscribe(_forward("bench.c"), topic="bench.b", prefetch=prefetch)
        broker.subscribe(_last, topic="bench.c", prefetch=prefetch)
        for event in _plain_events(warm_up):
            broker.publish(event)
        broker.wait_for_idle(_TIMEOUT_S)
        with Stopwatch() as watch:
            for event in events:
                broker.publish(event)
            broker.wait_for_idle(_TIMEOUT_S)
    if errors:
        raise RuntimeError(f"W1p broker run reported {len(errors)} errors: {errors[0]!r}")
    return watch.seconds


def _plain_executors(events: Sequence[BenchEvent], prefetch: int) -> float:
    finished = _Countdown(len(events))
    with (
        ThreadPoolExecutor(prefetch) as pool_a,
        ThreadPoolExecutor(prefetch) as pool_b,
        ThreadPoolExecutor(prefetch) as pool_c,
    ):

        def handler_c(event: BenchEvent) -> None:
            finished()

        def handler_b(event: BenchEvent) -> None:
            pool_c.submit(handler_c, BenchEvent("bench.c", event.n))

        def handler_a(event: BenchEvent) -> None:
            pool_b.submit(handler_b, BenchEvent("bench.b", event.n))

        with Stopwatch() as watch:
            for event in events:
                pool_a.submit(handler_a, event)
            if not finished.done.wait(_TIMEOUT_S):
                raise TimeoutError("W1p executor baseline did not finish")
    return watch.seconds


def _plain_serial(events: Sequence[BenchEvent]) -> float:
    handlers = {"bench.a": _forward("bench.b"), "bench.b": _forward("bench.c"), "bench.c": _last}
    todo: list[Any] = []
    with Stopwatch() as watch:
        for event in events:
            todo.append(event)
            while todo:
                current = todo.pop()
                handlers[current.to](current, todo.append)
    return watch.seconds


def run_w1p(params: Params, scale: float) -> Figures:
    prefetch = int(params["prefetch"])
    events = _plain_events(scaled(_N, scale, minimum=20))
    wall = _plain_broker(events, prefetch)
    baseline = _plain_executors(events, prefetch)
    serial = _plain_serial(events)
    return _figures(len(events), wall, baseline, serial)


def footprint_w1p(params: Params, scale: float) -> None:
    _plain_broker(_plain_events(scaled(_N, scale, minimum=20)), int(params["prefetch"]))


def run_w1s(params: Params, scale: float) -> Figures:
    events = _plain_events(scaled(int(params["n"]), scale, minimum=20))
    wall = _plain_broker(events, int(params["prefetch"]), warm_up=scaled(_WARM_UP, scale))
    hops = _HOPS * len(events)
    return {"hops_per_s": hops / wall, "us_per_hop": wall / hops * 1e6, "wall_s": wall}


def footprint_w1s(params: Params, scale: float) -> None:
    events = _plain_events(scaled(int(params["n"]), scale, minimum=20))
    _plain_broker(events, int(params["prefetch"]), warm_up=scaled(_WARM_UP, scale))


WORKLOADS = [
    Workload(
        id="W1",
        name="broker: hops through 3 Arvo handlers (new event per hop)",
        sweep=[{"prefetch": 1}, {"prefetch": 8}],
        run=run_w1,
        headline="hops_per_s",
        tags=frozenset({"broker", "arvo"}),
        footprint=footprint_w1,
        highlights=("ratio_to_baseline", "ratio_to_serial"),
    ),
    Workload(
        id="W1p",
        name="broker: hops through 3 plain functions (raw broker)",
        sweep=[{"prefetch": 1}, {"prefetch": 8}],
        run=run_w1p,
        headline="hops_per_s",
        tags=frozenset({"broker"}),
        footprint=footprint_w1p,
        highlights=("ratio_to_baseline",),
    ),
    Workload(
        id="W1s",
        name="broker: W1p's cost per hop as N grows",
        sweep=[{"prefetch": p, "n": n} for p in (1, 8) for n in (5_000, 20_000, 80_000)],
        run=run_w1s,
        headline="hops_per_s",
        tags=frozenset({"broker"}),
        footprint=footprint_w1s,
        highlights=("us_per_hop",),
    ),
]
