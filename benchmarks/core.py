"""What a workload is, and the measuring helpers every workload shares.

A workload module in ``benchmarks/workloads/`` exposes ``WORKLOADS: list[Workload]``.
Each :class:`Workload` runs **one repetition** of one parameter set and returns its
figures as a flat dict of numbers; the runner repeats it and reports the median of
each figure. Baselines run inside the same repetition and ratios are figures too
(``ratio_to_baseline``, ``efficiency``...), so they are medians of per-run ratios.
"""

from __future__ import annotations

import math
import resource
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Params = Mapping[str, Any]
Figures = dict[str, float]


@dataclass(frozen=True)
class Workload:
    """One benchmark workload.

    Attributes:
        id: short id, as in WORKLOADS.md (``"W6a"``).
        name: what it measures, in a few words.
        sweep: the parameter sets of a full run (e.g. ``[{"prefetch": 1}, {"prefetch": 8}]``).
        run: ``run(params, scale)`` measures one repetition; ``scale`` 1.0 is the size of
            WORKLOADS.md and smaller values shrink the event counts (the smoke test uses
            a tiny scale). Returns the figures of that repetition.
        headline: the figure a summary table shows first.
    """

    id: str
    name: str
    sweep: Sequence[Params]
    run: Callable[[Params, float], Figures]
    headline: str
    tags: frozenset[str] = field(default_factory=frozenset)


def scaled(n: int, scale: float, minimum: int = 1) -> int:
    """``n`` events at ``scale``, never fewer than ``minimum``."""
    return max(minimum, round(n * scale))


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


class LatencyHistogram:
    """Log-bucketed latency histogram: percentiles without keeping every sample.

    Buckets grow by ~2% per step from 1 µs, so a percentile is exact to within 2%.
    Thread-safe.
    """

    _GROWTH = 1.02
    _MIN_S = 1e-6

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._n = 0
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        """Add one sample, in seconds."""
        idx = 0 if seconds <= self._MIN_S else 1 + int(math.log(seconds / self._MIN_S, self._GROWTH))
        with self._lock:
            self._counts[idx] = self._counts.get(idx, 0) + 1
            self._n += 1

    @property
    def count(self) -> int:
        """How many samples were recorded."""
        return self._n

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0-100), in seconds: the upper edge of its bucket."""
        with self._lock:
            if not self._n:
                raise ValueError("percentile of an empty histogram")
            rank = max(1, math.ceil(self._n * p / 100))
            seen = 0
            for idx in sorted(self._counts):
                seen += self._counts[idx]
                if seen >= rank:
                    return self._MIN_S * self._GROWTH**idx
        raise AssertionError("unreachable")
