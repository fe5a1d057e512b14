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


def machine_info() -> dict[str, Any]:
    """Where and with what the run happened; the platform string carries no host name."""
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": {name: _version(name) for name in _PACKAGES},
        "commit": _commit(),
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


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
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
            "runs": [_finite(run) for run in r.runs],
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
    rows = [
        [name, *(format_value(name, r.figures.get(name)) for r in group)]
        for name in figure_order(group)
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
        shown = f"{headline} {format_value(headline, figures.get(headline))}"
        ratios = ", ".join(
            f"{n} {format_value(n, v)}" for n, v in figures.items() if _own_ratio(n, headline)
        )
        rows.append([r.workload.id, params_label(r.params), shown, r.error or ratios or "-"])
    return header, rows


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
) -> str:
    """A results page: the command, the machine, every table, and links to ``plots``.

    ``plots`` maps a workload id to its PNG files; links are relative to ``page``.
    """
    repeat = results[0].repeat if results else 0
    scale = results[0].scale if results else 0
    parts = [
        "# Benchmark results",
        f"Produced by:\n\n```\n{command}\n```",
        f"Machine: {_machine_line(machine)}",
        f"Each figure is the median of {repeat} repetition(s) at scale {scale}. Figure names "
        "follow the conventions of `benchmarks/core.py` (`ratio_to_*` and `efficiency`: "
        "higher is better).",
        "## Summary",
        markdown_table(*summary_rows(results), numeric=False),
    ]
    for group in by_workload(results):
        workload = group[0].workload
        parts += [f"## {workload.id}: {workload.name}", markdown_table(*workload_rows(group))]
        parts += [f"![{png.stem}]({_relative(png, page)})" for png in plots.get(workload.id, [])]
    return "\n\n".join(parts) + "\n"


def _machine_line(machine: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {v}" for name, v in machine["versions"].items())
    commit = f", commit {machine['commit']}" if machine.get("commit") else ""
    return (
        f"{machine['platform']}, {machine['cpu_count']} CPUs, "
        f"{machine['python_implementation']} {machine['python']}; {versions}; "
        f"{machine['timestamp']}{commit}"
    )


def _relative(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target.resolve(), page.resolve().parent)).as_posix()
