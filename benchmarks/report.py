"""Turns results into a console summary, JSON records and a markdown page."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.core import is_efficiency, is_ratio
from benchmarks.runner import Result, params_label

_PACKAGES = ("arvo-concurrent", "pykka", "msgspec", "tenacity")
_NOT_CODE = (
    ":(top)",
    ":(top,exclude)README.md",
    ":(top,exclude)benchmarks/RESULTS.md",
    ":(top,exclude)benchmarks/NOTES.md",
    ":(top,exclude)benchmarks/results",
)


def machine_info() -> dict[str, Any]:
    """Where and with what the run happened; the platform string carries no host name."""
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": {name: _version(name) for name in _PACKAGES},
        "commit": _git("rev-parse", "--short", "HEAD"),
        # Uncommitted changes to tracked files: the figures are not those of the commit.
        # The published outputs themselves do not count, so that a second run is not
        # marked dirty by the first one's results.
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", *_NOT_CODE)),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        # A checkout run without installing still knows its own version.
        return _checkout_version() if package == _PACKAGES[0] else None


def _checkout_version() -> str | None:
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    version = project.get("version")
    return version if isinstance(version, str) else None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def records(
    results: Sequence[Result], machine: dict[str, Any], command: str
) -> list[dict[str, Any]]:
    """One JSON-ready object per workload and parameter set; non-finite figures become null."""
    return [
        {
            "workload": r.workload.id,
            "name": r.workload.name,
            "params": r.params,
            "headline": r.workload.headline,
            "figures": _finite(r.figures),
            "spread": {name: _finite_pair(pair) for name, pair in r.spread.items()},
            "runs": [_finite(run) for run in r.runs],
            "memory": _finite(r.memory),
            "repeat": r.repeat,
            "scale": r.scale,
            "error": r.error,
            "machine": machine,
            "command": command,
        }
        for r in results
    ]


def _finite(figures: dict[str, float]) -> dict[str, float | None]:
    return {name: v if math.isfinite(v) else None for name, v in figures.items()}


def _finite_pair(pair: tuple[float, float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in pair]


def write_json(path: Path, objects: list[dict[str, Any]]) -> None:
    """Writes ``objects`` as one JSON array (strict JSON: no NaN, no Infinity)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(objects, indent=2, allow_nan=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")


def format_value(name: str, value: float | None) -> str:
    """A figure for people: ratios as ``1.23x``, efficiency in percent, big numbers grouped."""
    if value is None or not math.isfinite(value):
        return "-"
    if is_efficiency(name):
        return f"{value:.1%}"
    if is_ratio(name):
        return f"{value:.2f}x"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_cell(result: Result, name: str) -> str:
    """The median of figure ``name`` and, when the repetitions differ, their (min–max)."""
    value = result.figures.get(name)
    shown = format_value(name, value)
    low, high = result.spread.get(name, (value, value))
    if value is None or low == high:
        return shown
    return f"{shown} ({format_value(name, low)}–{format_value(name, high)})"


def figure_order(results: Sequence[Result]) -> list[str]:
    """The rows of a workload's table: its headline, then its ratios, then the rest."""
    names = list(dict.fromkeys(name for r in results for name in r.figures))
    headline = results[0].workload.headline
    first = [headline] if headline in names else []
    ratios = [n for n in names if is_ratio(n) and n not in first]
    return first + ratios + [n for n in names if n not in first and n not in ratios]


def by_workload(results: Sequence[Result]) -> list[list[Result]]:
    """``results`` grouped per workload, in order of first appearance."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.workload.id, []).append(r)
    return list(groups.values())


def workload_rows(group: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """A workload's table: one column per parameter set, one row per figure."""
    header = ["figure", *(params_label(r.params) for r in group)]
    rows = [[name, *(format_cell(r, name) for r in group)] for name in figure_order(group)]
    memory = list(dict.fromkeys(name for r in group for name in r.memory))
    rows += [
        [f"{name} (own process)", *(format_value(name, r.memory.get(name)) for r in group)]
        for name in memory
    ]
    errors = [r.error or "" for r in group]
    if any(errors):
        rows.append(["error", *errors])
    return header, rows


def summary_rows(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """One row per workload and parameter set: its headline figure and its own ratios."""
    header = ["workload", "params", "headline", "ratios"]
    rows = []
    for r in results:
        figures, headline = r.figures, r.workload.headline
        shown = f"{headline} {format_cell(r, headline)}"
        ratios = ", ".join(f"{n} {format_cell(r, n)}" for n in figures if _own_ratio(n, headline))
        rows.append([r.workload.id, params_label(r.params), shown, r.error or ratios or "-"])
    return header, rows


def headline_rows(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """The README's table: per workload and parameter set, its headline and highlights.

    Highlights are the workload's ``highlights`` (default: its own ratios), each with
    its spread, and its peak RSS when it was measured.
    """
    header = ["workload", "params", "headline (median, min–max)", "also"]
    rows = []
    for r in results:
        headline = r.workload.headline
        names = list(r.workload.highlights) or [n for n in r.figures if _own_ratio(n, headline)]
        also = [f"{n} {format_cell(r, n)}" for n in names if n in r.figures]
        if "peak_rss_mb" in r.memory:
            also.append(f"peak RSS {r.memory['peak_rss_mb']:.0f} MiB")
        name = f"{r.workload.id} {r.workload.name}"
        rows.append(
            [name, params_label(r.params), f"{headline} {format_cell(r, headline)}",
             r.error or "; ".join(also) or "-"]
        )  # fmt: skip
    return header, rows


README_START = "<!-- benchmarks:headlines:start -->"
README_END = "<!-- benchmarks:headlines:end -->"


def headlines_block(results: Sequence[Result], machine: dict[str, Any], command: str) -> str:
    """The README's generated block: where the figures come from, then the table."""
    repeat = results[0].repeat if results else 0
    source = (
        f"Generated by `{command}` ({_provenance(machine)}); medians of {repeat} "
        "repetition(s), the spread (min–max) in brackets. Details and the machine: "
        "[benchmarks/RESULTS.md](benchmarks/RESULTS.md)."
    )
    table = markdown_table(*headline_rows(results), numeric=False)
    return f"{README_START}\n{source}\n\n{table}\n{README_END}"


def replace_headlines(readme: str, block: str) -> str:
    """``readme`` with its generated block (between the two markers) replaced by ``block``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {README_START} ... {README_END} block to replace")
    return readme[:start] + block + readme[end + len(README_END) :]


def _provenance(machine: dict[str, Any]) -> str:
    commit = machine.get("commit") or "unknown commit"
    dirty = " plus uncommitted changes" if machine.get("dirty") else ""
    return f"commit {commit}{dirty}, {machine['timestamp']}, {machine['cpu_count']} CPUs"


def _own_ratio(name: str, headline: str) -> bool:
    """A ratio of the library's own figures (not the baseline's), other than the headline."""
    return is_ratio(name) and name != headline and not name.startswith(("baseline_", "ideal_"))


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    """Columns padded to width; all but the first right-aligned when ``numeric``."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        pad = [str.ljust, *([str.rjust if numeric else str.ljust] * (len(cells) - 1))]
        return "  ".join(f(c, w) for f, c, w in zip(pad, cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True
) -> str:
    """A GitHub markdown table; all but the first column right-aligned when ``numeric``."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join([":---", *(("---:" if numeric else ":---") for _ in header[1:])]) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])


def console_summary(results: Sequence[Result]) -> str:
    """The stdout report: one table per workload, then every headline with its ratios."""
    blocks = []
    for group in by_workload(results):
        title = f"{group[0].workload.id}  {group[0].workload.name}"
        blocks.append(f"{title}\n{text_table(*workload_rows(group))}")
    blocks.append(f"Summary (medians)\n{text_table(*summary_rows(results), numeric=False)}")
    return "\n\n".join(blocks) + "\n"


def markdown_page(
    results: Sequence[Result],
    machine: dict[str, Any],
    command: str,
    plots: dict[str, list[Path]],
    page: Path,
    *,
    notes: str = "",
) -> str:
    """A results page: the command, the machine, every table, links to ``plots``, ``notes``.

    ``plots`` maps a workload id to its PNG files; links are relative to ``page``.
    ``notes`` (markdown) ends the page.
    """
    repeat = results[0].repeat if results else 0
    scale = results[0].scale if results else 0
    parts = [
        "# Benchmark results",
        f"Produced by:\n\n```\n{command}\n```",
        f"Machine: {_machine_line(machine)}",
        f"Each figure is the median of {repeat} repetition(s) at scale {scale}, with the "
        "spread of the repetitions (min–max) in brackets when they differ. Figures marked "
        "*own process* were measured once, in a fresh process that ran only the library's "
        "side of the workload (peak RSS). Figure names follow the conventions of "
        "`benchmarks/core.py` (`ratio_to_*` and `efficiency`: higher is better).",
        "## Summary",
        markdown_table(*summary_rows(results), numeric=False),
    ]
    for group in by_workload(results):
        workload = group[0].workload
        parts += [f"## {workload.id}: {workload.name}", markdown_table(*workload_rows(group))]
        parts += [f"![{png.stem}]({_relative(png, page)})" for png in plots.get(workload.id, [])]
    if notes.strip():
        parts.append(notes.strip())
    return "\n\n".join(parts) + "\n"


def _machine_line(machine: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {v}" for name, v in machine["versions"].items())
    commit = f", commit {machine['commit']}" if machine.get("commit") else ""
    commit += " plus uncommitted changes" if machine.get("dirty") else ""
    return (
        f"{machine['platform']}, {machine['cpu_count']} CPUs, "
        f"{machine['python_implementation']} {machine['python']}; {versions}; "
        f"{machine['timestamp']}{commit}"
    )


def _relative(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target.resolve(), page.resolve().parent)).as_posix()
