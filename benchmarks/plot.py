"""PNG charts of figures against prefetch; matplotlib is imported only when plotting.

Which figures go on which chart follows the naming conventions of
:mod:`benchmarks.core`: ``*_per_s`` on the throughput chart, each with its
``baseline_*`` (dotted) and ``ideal_*`` (dashed) companions; any other figure that
has such a companion (``wall_s`` with ``ideal_wall_s``) on a chart of its own;
latency percentiles on the latency chart; every ratio and efficiency (baseline ones
dotted) on the ratio chart, with a line at 1.
A workload is charted only if its results span at least two prefetch values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core import is_ratio, is_throughput, latency_percentile
from benchmarks.report import by_workload
from benchmarks.runner import Result, params_label

_COMPANIONS = (("baseline_", "baseline", ":"), ("ideal_", "ideal", "--"))


@dataclass(frozen=True)
class Series:
    """One line: ``ys`` against prefetch ``xs``."""

    label: str
    xs: list[int]
    ys: list[float]
    style: str = "-"


@dataclass(frozen=True)
class Chart:
    """One PNG: a title, a y label, its lines, and an optional horizontal reference.

    Charts without a reference start their y axis at 0, so that a gap looks its size.
    """

    name: str
    title: str
    ylabel: str
    series: list[Series]
    reference: float | None = None


def charts_for(group: Sequence[Result]) -> list[Chart]:
    """The charts of one workload's results (empty when there is no prefetch to sweep)."""
    swept = [r for r in group if "prefetch" in r.params and not r.error]
    if len({r.params["prefetch"] for r in swept}) < 2:
        return []
    workload = group[0].workload
    names = list(dict.fromkeys(n for r in swept for n in r.figures))
    charts = []
    throughput = [n for n in names if is_throughput(n)]
    if throughput:
        series = [s for n in throughput for s in _with_companions(swept, n, names)]
        charts.append(Chart("throughput", f"{workload.id} throughput", "per second", series))
    for name in _compared(names):
        series = _with_companions(swept, name, names)
        charts.append(Chart(name, f"{workload.id} {name}", name, series))
    latency = sorted((n for n in names if latency_percentile(n) is not None), key=_by_percentile)
    if latency:
        series = [s for n in latency for s in _series(swept, n, n)]
        charts.append(Chart("latency", f"{workload.id} latency", "microseconds", series))
    ratios = [n for n in names if is_ratio(n)]
    if ratios:
        series = [s for n in ratios for s in _series(swept, n, n, _style(n))]
        charts.append(Chart("ratios", f"{workload.id} ratios", "ratio", series, reference=1.0))
    return charts


def _compared(names: Sequence[str]) -> list[str]:
    """Figures, other than throughputs and ratios, with a baseline or ideal among ``names``."""
    return [
        n
        for n in names
        if not n.startswith(("baseline_", "ideal_"))
        and not is_ratio(n)
        and not is_throughput(n)
        and any(prefix + n in names for prefix, _, _ in _COMPANIONS)
    ]


def _style(name: str) -> str:
    return next((style for prefix, _, style in _COMPANIONS if name.startswith(prefix)), "-")


def _with_companions(group: Sequence[Result], name: str, names: Sequence[str]) -> list[Series]:
    lines = _series(group, name, name)
    for prefix, label, style in _COMPANIONS:
        if prefix + name in names:
            lines += _series(group, prefix + name, f"{label} {name}", style)
    return lines


def _series(group: Sequence[Result], name: str, label: str, style: str = "-") -> list[Series]:
    """One line per combination of the parameters other than prefetch."""
    lines: dict[str, list[tuple[int, float]]] = {}
    for r in group:
        rest = params_label({k: v for k, v in r.params.items() if k != "prefetch"})
        value = r.figures.get(name)
        if value is not None and math.isfinite(value):
            lines.setdefault(rest, []).append((int(r.params["prefetch"]), value))
    return [
        Series(label if rest == "default" else f"{label} ({rest})", *_unzip(sorted(points)), style)
        for rest, points in lines.items()
    ]


def _unzip(points: list[tuple[int, float]]) -> tuple[list[int], list[float]]:
    return [x for x, _ in points], [y for _, y in points]


def _by_percentile(name: str) -> float:
    return latency_percentile(name) or 0.0


def plot_results(results: Sequence[Result], out_dir: Path) -> dict[str, list[Path]]:
    """Writes every chart of ``results`` to ``out_dir``; returns the PNGs per workload id."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for group in by_workload(results):
        for chart in charts_for(group):
            path = out_dir / f"{group[0].workload.id}_{chart.name}.png"
            draw(chart, path)
            written.setdefault(group[0].workload.id, []).append(path)
    return written


def draw(chart: Chart, path: Path) -> None:
    """Renders ``chart`` to a PNG at ``path`` with the Agg canvas."""
    # Imported here so that runs without --plot never pay for (nor need) matplotlib; the
    # Agg canvas, without pyplot, sets no global backend and opens no window.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for line in chart.series:
        axes.plot(line.xs, line.ys, line.style, marker="o", label=line.label)
    if chart.reference is None:
        axes.set_ylim(bottom=0)
    else:
        axes.axhline(chart.reference, color="grey", linewidth=0.8)
    xs = sorted({x for line in chart.series for x in line.xs})
    if xs and xs[-1] >= 8 * xs[0]:
        axes.set_xscale("log", base=2)
        axes.minorticks_off()
    axes.set_xticks(xs, labels=[str(x) for x in xs])
    axes.set(title=chart.title, xlabel="prefetch", ylabel=chart.ylabel)
    axes.grid(visible=True, alpha=0.3)
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=100)
