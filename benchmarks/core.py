"""What a workload is, and the measuring helpers every workload shares.

A workload module in ``benchmarks/workloads/`` exposes ``WORKLOADS: list[Workload]``.
Each :class:`Workload` runs **one repetition** of one parameter set and returns its
figures as a flat dict of numbers; the runner repeats it and reports the median of
each figure. Baselines run inside the same repetition and ratios are figures too
(``ratio_to_baseline``, ``efficiency``...), so they are medians of per-run ratios.

Figure names follow conventions that the report and the plots rely on:

- ``<x>_per_s``: a throughput (higher is better), plotted against prefetch.
- ``ideal_<x>``: the physical limit of figure ``<x>`` (``ideal_wall_s`` for ``wall_s``,
  ``ideal_events_per_s`` for ``events_per_s``), drawn as a dashed line next to ``<x>``.
- ``baseline_<x>``: figure ``<x>`` measured on the baseline in the same run, drawn as
  a dotted line next to ``<x>``.
- ``ratio_to_<what>`` (or ``<x>_ratio_to_<what>``): a figure divided by the same figure
  of ``<what>`` (``ratio_to_baseline``, ``ratio_to_ideal``), oriented so that higher
  is better; shown right after the headline and plotted with a line at 1.
- ``efficiency`` or ``<x>_efficiency``: ideal / actual (at most 1), treated like a ratio
  and shown in percent.
- ``p<NN>_us`` or ``<x>_p<NN>_us``: a latency percentile in microseconds, plotted
  against prefetch.
- ``<x>_s``, ``<x>_ms``, ``<x>_us``: a duration; ``<x>_mb``: a memory size in MiB.
- anything else: a count (``lost_updates``, ``threads_left``...).
"""

from __future__ import annotations

import math
import re
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
        footprint: ``footprint(params, scale)`` runs the library's side of one
            repetition once, no baseline; the runner calls it in a fresh process of its
            own to measure the workload's peak RSS (:mod:`benchmarks.footprint`). A
            module-level function, so that the child process can import it.
        highlights: figures the README headlines show after the headline (default:
            the workload's own ratios).
    """

    id: str
    name: str
    sweep: Sequence[Params]
    run: Callable[[Params, float], Figures]
    headline: str
    tags: frozenset[str] = field(default_factory=frozenset)
    footprint: Callable[[Params, float], object] | None = None
    highlights: Sequence[str] = ()


def scaled(n: int, scale: float, minimum: int = 1) -> int:
    """``n`` events at ``scale``, never fewer than ``minimum``."""
    return max(minimum, round(n * scale))


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
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
        idx = (
            0 if seconds <= self._MIN_S else 1 + int(math.log(seconds / self._MIN_S, self._GROWTH))
        )
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


_PERCENTILE = re.compile(r"(?:^|_)p(\d+(?:\.\d+)?)_us$")


def is_efficiency(name: str) -> bool:
    """Whether figure ``name`` is an efficiency (ideal / actual), shown in percent."""
    return name == "efficiency" or name.endswith("_efficiency")


def is_ratio(name: str) -> bool:
    """Whether figure ``name`` is a ratio to a baseline or an ideal (see the conventions)."""
    return is_efficiency(name) or "ratio_to_" in name


def is_throughput(name: str) -> bool:
    """Whether figure ``name`` is a throughput measured on the library itself."""
    return name.endswith("_per_s") and not name.startswith(("ideal_", "baseline_"))


def latency_percentile(name: str) -> float | None:
    """The percentile that latency figure ``name`` reports (``"p99_us"`` -> 99), else None."""
    match = _PERCENTILE.search(name)
    return float(match.group(1)) if match else None
