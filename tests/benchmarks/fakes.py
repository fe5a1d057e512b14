"""Fake workloads for the harness tests: instant, deterministic, no threads."""

from __future__ import annotations

from benchmarks.core import Figures, Params, Workload


def io_like(params: Params, scale: float) -> Figures:
    """A W2-like workload: throughput, its ideal, a ratio and latency percentiles."""
    prefetch = float(params["prefetch"])
    return {
        "events_per_s": 100.0 * prefetch,
        "ideal_events_per_s": 125.0 * prefetch,
        "wall_s": 10.0 / prefetch,
        "efficiency": 0.8,
        "p50_us": 100.0 * prefetch,
        "p99_us": 900.0 * prefetch,
        "scale": scale,
    }


def memory_like(params: Params, scale: float) -> Figures:
    """A W6-like workload without a prefetch parameter."""
    return {"cycles_per_s": 5000.0, "ratio_to_baseline": 0.25, "lost_updates": 0}


def broken(params: Params, scale: float) -> Figures:
    """A workload whose run raises."""
    raise RuntimeError("the broker fell over")


def make_counter() -> tuple[Workload, list[Params]]:
    """A workload that reports 1, 2, 3... per call, and records the params it got."""
    calls: list[Params] = []

    def run(params: Params, scale: float) -> Figures:
        calls.append(dict(params))
        return {"n": float(len(calls))}

    return Workload("W9", "counter", [{"prefetch": 1}], run, "n"), calls


IO = Workload("W2", "io-like", [{"prefetch": 1}, {"prefetch": 10}], io_like, "efficiency")
MEMORY_A = Workload("W6a", "memory-like a", [{}], memory_like, "cycles_per_s")
MEMORY_B = Workload("W6b", "memory-like b", [{"threads": 16}], memory_like, "cycles_per_s")
BROKEN = Workload("W8", "broken", [{"prefetch": 1}], broken, "x")
CATALOGUE = [IO, MEMORY_A, MEMORY_B]


def allocate(params: Params, scale: float) -> None:
    """A footprint that holds ``params["mb"]`` MiB of touched memory while it runs."""
    block = b"x" * (int(params["mb"]) * 2**20)
    assert block[-1:] == b"x"


def fail(params: Params, scale: float) -> None:
    """A footprint that raises."""
    raise ValueError("no memory for you")


ALLOCATING = Workload(
    "W5", "allocating", [{"mb": 24}], memory_like, "cycles_per_s", footprint=allocate
)
