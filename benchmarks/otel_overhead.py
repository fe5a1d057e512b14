"""What tracing costs: W1 and W5 without OpenTelemetry, with the API only, with the SDK.

``python -m benchmarks.otel_overhead [--repeat 3] [--best-of 5] [--scale 0.2]``

One process runs every mode (:mod:`benchmarks.otel_modes`; the SDK's providers are the
Telemetry's own, never the global ones, so the modes cannot leak into each other).
Figures per run: W1's hops/s at prefetch 1 and 8 (the broker row only; its baselines
are not needed here) and the CPU time the process spent per hop, and W5's resolve
latency p50/p99 (``--scale`` of W1's 20,000 events and W5's 1,000 resolves).

A repetition runs each mode ``--best-of`` times, the modes interleaved (off, api, sdk,
off, api, sdk...) so that a machine that gets busier part way through weighs on every
mode alike, and keeps each figure's best run (the most hops/s, the least time): on a
shared machine the other processes only ever slow a run down, so the best is the
figure least disturbed by them. Reported: for each mode, the median over the
repetitions of each figure, and of its **slowdown** against ``off`` in the same
repetition (cost with / cost without: 1.00 is free, 1.05 is 5% slower), with the
min–max of the slowdowns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence

from benchmarks.otel_modes import ENV, MODES
from benchmarks.workloads.bench_arvo import hop_request
from benchmarks.workloads.w1_hops import arvo_broker_wall
from benchmarks.workloads.w5_latency import run_w5

__all__ = ["best", "measure", "slowdowns"]

_W1_EVENTS = 20_000
_W1_HOPS = 3
# Throughputs: a slowdown is without / with. The rest are costs: with / without.
_THROUGHPUTS = frozenset({"W1_p1_hops_per_s", "W1_p8_hops_per_s"})


def measure(mode: str, scale: float) -> dict[str, float]:
    """The figures of one run with ``mode``'s telemetry (sets ``ARVO_BENCH_TELEMETRY``)."""
    os.environ[ENV] = mode
    figures: dict[str, float] = {}
    events = [hop_request(i) for i in range(max(20, int(_W1_EVENTS * scale)))]
    hops = _W1_HOPS * len(events)
    for prefetch in (1, 8):
        cpu = time.process_time()
        wall = arvo_broker_wall(events, prefetch)
        figures[f"W1_p{prefetch}_hops_per_s"] = hops / wall
        figures[f"W1_p{prefetch}_cpu_us_per_hop"] = (time.process_time() - cpu) / hops * 1e6
    w5 = run_w5({"prefetch": 1}, scale)
    figures["W5_p50_us"] = w5["p50_us"]
    figures["W5_p99_us"] = w5["p99_us"]
    return figures


def best(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each figure's best over ``runs``: the highest throughput, the lowest cost."""
    pick = {name: (max if name in _THROUGHPUTS else min) for name in runs[0]}
    return {name: choose(run[name] for run in runs) for name, choose in pick.items()}


def slowdowns(
    runs: dict[str, list[dict[str, float]]],
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per mode and figure: (median, min, max) of the per-repetition slowdown vs ``off``."""
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for mode, figures in runs.items():
        table[mode] = {}
        for name in figures[0]:
            ratios = [
                (base[name] / run[name]) if name in _THROUGHPUTS else (run[name] / base[name])
                for base, run in zip(runs["off"], figures, strict=True)
            ]
            table[mode][name] = (statistics.median(ratios), min(ratios), max(ratios))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.otel_overhead")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--best-of", type=int, default=5)
    parser.add_argument("--scale", type=float, default=0.2)
    options = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for repetition in range(options.repeat):
        tries: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for _ in range(options.best_of):
            for mode in MODES:
                tries[mode].append(measure(mode, options.scale))
        for mode in MODES:
            runs[mode].append(best(tries[mode]))
            print(f"repetition {repetition + 1}, {mode}: {runs[mode][-1]}", file=sys.stderr)
    table = slowdowns(runs)
    print("| figure | mode | median | slowdown vs off (median, min–max) |")
    print("|---|---|---|---|")
    for name in runs["off"][0]:
        for mode in MODES:
            median = statistics.median(run[name] for run in runs[mode])
            ratio, low, high = table[mode][name]
            print(f"| {name} | {mode} | {median:,.1f} | {ratio:.3f} ({low:.3f}–{high:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
