"""Which figures go on which chart, and the PNGs themselves."""

from __future__ import annotations

from pathlib import Path

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


def test_no_chart_without_a_prefetch_sweep() -> None:
    assert charts_for(_sweep([8])) == []
    assert charts_for([Result(MEMORY_A, {}, [{"cycles_per_s": 1.0}], 1, 1.0)]) == []


def test_plot_results_writes_one_png_per_chart(tmp_path: Path) -> None:
    written = plot_results([*_sweep([1, 8])], tmp_path / "plots")
    paths = written["W2"]
    assert [p.name for p in paths] == ["W2_throughput.png", "W2_latency.png", "W2_ratios.png"]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG")
