"""Which figures go on which chart, and the PNGs themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.plot import charts_for, plot_results
from benchmarks.runner import Result
from tests.benchmarks.fakes import IO, MEMORY_A


def _sweep(prefetches: list[int]) -> list[Result]:
    return [Result(IO, {"prefetch": p}, [IO.run({"prefetch": p}, 1.0)], 1, 1.0) for p in prefetches]


def test_charts_follow_the_naming_conventions() -> None:
    charts = {chart.name: chart for chart in charts_for(_sweep([4, 1, 2]))}
    assert set(charts) == {"throughput", "latency", "ratios"}
    throughput = charts["throughput"].series
    assert [(s.label, s.style) for s in throughput] == [
        ("events_per_s", "-"),
        ("ideal events_per_s", "--"),
    ]
    assert throughput[0].xs == [1, 2, 4]
    assert throughput[0].ys == [100.0, 200.0, 400.0]
    assert [s.label for s in charts["latency"].series] == ["p50_us", "p99_us"]
    assert charts["ratios"].reference == 1.0
    assert charts["throughput"].reference is None


def test_ratios_share_one_chart_and_other_compared_figures_get_their_own() -> None:
    figures = {
        "efficiency": 0.9,
        "baseline_efficiency": 0.8,
        "wall_s": 1.0,
        "ideal_wall_s": 0.5,
        "baseline_wall_s": 2.0,
        "cold_wall_s": 1.0,
    }
    group = [Result(IO, {"prefetch": p}, [figures], 1, 1.0) for p in (1, 2)]
    charts = {chart.name: chart for chart in charts_for(group)}
    assert set(charts) == {"wall_s", "ratios"}
    assert [(s.label, s.style) for s in charts["wall_s"].series] == [
        ("wall_s", "-"),
        ("baseline wall_s", ":"),
        ("ideal wall_s", "--"),
    ]
    assert [(s.label, s.style) for s in charts["ratios"].series] == [
        ("efficiency", "-"),
        ("baseline_efficiency", ":"),
    ]


def test_one_line_per_combination_of_the_other_parameters() -> None:
    group = [
        Result(IO, {"prefetch": p, "mode": m}, [{"x_per_s": float(p)}], 1, 1.0)
        for m in ("a", "b")
        for p in (1, 2)
    ]
    (chart,) = charts_for(group)
    assert [(s.label, s.xs) for s in chart.series] == [
        ("x_per_s (mode=a)", [1, 2]),
        ("x_per_s (mode=b)", [1, 2]),
    ]


def test_no_chart_without_a_prefetch_sweep() -> None:
    assert charts_for(_sweep([8])) == []
    assert charts_for([Result(MEMORY_A, {}, [{"cycles_per_s": 1.0}], 1, 1.0)]) == []


def test_plot_results_writes_one_png_per_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the PNGs need the bench extra (matplotlib)")
    written = plot_results([*_sweep([1, 8])], tmp_path / "plots")
    paths = written["W2"]
    assert [p.name for p in paths] == ["W2_throughput.png", "W2_latency.png", "W2_ratios.png"]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG")
