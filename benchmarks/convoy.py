"""Lock convoy diagnostic for W1p: hop rate and contended lock acquisitions over time.

    python -m benchmarks.convoy --n 320000 --prefetch 1

Runs W1p's plain chain once with every lock of the broker's pools and work trackers
replaced by a counting lock: an acquisition that cannot take the lock at once is
*contended* (the thread blocks, and gives up the GIL). It prints, per 50 ms window,
the hops completed, the contended acquisitions of each kind of lock, and the wake-ups
(an item handed to an idle worker, whose thread must be woken; a busy worker takes
the next item itself). Under the
GIL a lock that every worker takes on every hop can fall into a convoy: a waiting
thread is granted the lock while it still waits for the GIL, so the next acquirer
blocks too, and every hop pays two GIL hand-offs. It shows as thousands of
contended acquisitions per window together with a hop rate that drops several times.
The counting lock adds a little Python work to each acquisition, so absolute rates
are lower than W1p's. See benchmarks/NOTES.md.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from collections.abc import Sequence
from types import ModuleType, SimpleNamespace
from typing import Any

from arvo_concurrent.actors import pool
from arvo_concurrent.broker import ConcurrentEventBroker, tracking

_WINDOW_S = 0.05


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def window(self) -> int:
        return int((time.perf_counter() - self.t0) / _WINDOW_S)


class CountingLock:
    """A ``threading.Lock`` that counts, per window, the acquisitions that had to wait."""

    def __init__(self, counts: Counter[int], clock: _Clock) -> None:
        self._lock = threading.Lock()
        self._counts = counts
        self._clock = clock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, counting the acquisition if it is not free at once."""
        if self._lock.acquire(blocking=False):
            return True
        self._counts[self._clock.window()] += 1
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Release the lock."""
        self._lock.release()

    def locked(self) -> bool:
        """Whether the lock is held."""
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _counting_threading(counts: Counter[int], clock: _Clock) -> Any:
    """A stand-in for a module's ``threading`` whose ``Lock`` is a :class:`CountingLock`."""
    names = {name: getattr(threading, name) for name in dir(threading) if not name.startswith("_")}
    return SimpleNamespace(**{**names, "Lock": lambda: CountingLock(counts, clock)})


def trace(n: int, prefetch: int) -> tuple[list[int], dict[str, list[int]]]:
    """One W1p run of ``n`` events: hops, and the other counts by name, per 50 ms window."""
    clock = _Clock()
    contended: dict[str, Counter[int]] = {"pool": Counter(), "tracker": Counter()}
    wakeups: Counter[int] = Counter()
    modules: dict[str, ModuleType] = {"pool": pool, "tracker": tracking}
    saved = {name: module.threading for name, module in modules.items()}  # type: ignore[attr-defined]
    dispatch = pool.HandlerPool._dispatch
    hops: Counter[int] = Counter()

    def counting_dispatch(self: pool.HandlerPool, worker: Any, item: Any) -> bool:
        wakeups[clock.window()] += 1
        return dispatch(self, worker, item)

    finished: list[float] = []

    def forward(to: str) -> Any:
        def handler(event: Any, publish: Any) -> None:
            publish(SimpleNamespace(to=to))

        return handler

    def last(event: Any, publish: Any) -> None:
        # Only the last hop takes the time, the least work added to the chain.
        finished.append(time.perf_counter())

    try:
        pool.HandlerPool._dispatch = counting_dispatch  # type: ignore[method-assign]
        for name, module in modules.items():
            module.threading = _counting_threading(contended[name], clock)  # type: ignore[attr-defined]
        with ConcurrentEventBroker() as broker:
            broker.subscribe(forward("bench.b"), topic="bench.a", prefetch=prefetch)
            broker.subscribe(forward("bench.c"), topic="bench.b", prefetch=prefetch)
            broker.subscribe(last, topic="bench.c", prefetch=prefetch)
            event = SimpleNamespace(to="bench.a")
            clock.t0 = time.perf_counter()
            for _ in range(n):
                broker.publish(event)
            broker.wait_for_idle(600)
            windows = clock.window() + 1
    finally:
        pool.HandlerPool._dispatch = dispatch  # type: ignore[method-assign]
        for name, module in modules.items():
            module.threading = saved[name]  # type: ignore[attr-defined]
    for stamp in finished:
        hops[int((stamp - clock.t0) / _WINDOW_S)] += 3
    counts = {**contended, "wakeups": wakeups}
    per_window = {name: [c[i] for i in range(windows)] for name, c in counts.items()}
    return [hops[i] for i in range(windows)], per_window


def main(argv: Sequence[str] | None = None) -> int:
    """Prints one line per 50 ms window: hops/s and contended acquisitions."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convoy", description=__doc__)
    parser.add_argument("--n", type=int, default=320_000, help="initial events (default 320000)")
    parser.add_argument("--prefetch", type=int, default=1, help="prefetch of each handler")
    options = parser.parse_args(argv)
    hops, counts = trace(options.n, options.prefetch)
    total_s = len(hops) * _WINDOW_S
    print(f"{3 * options.n:,} hops in about {total_s:.2f} s, prefetch {options.prefetch}")
    print("window_ms    hops/s  contended: tracker     pool  wake-ups")
    for i, count in enumerate(hops):
        tracker, pools, woken = (counts[name][i] for name in ("tracker", "pool", "wakeups"))
        print(f"{i * 50:>9} {count / _WINDOW_S:>9,.0f}  {tracker:>18} {pools:>8} {woken:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
