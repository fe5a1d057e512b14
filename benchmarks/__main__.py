"""``python -m benchmarks``: run the workload suite, or tune a handler's prefetch.

Run ``python -m benchmarks --help`` and ``python -m benchmarks tune --help``.
``python -m benchmarks --publish`` is the one command that regenerates the published
figures: a full run with 3 repetitions, then ``benchmarks/results/latest.json``, the
plots, ``benchmarks/RESULTS.md`` (with ``benchmarks/NOTES.md`` at its end) and the
generated headline block of ``README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import report, tune
from benchmarks.core import Workload
from benchmarks.plot import plot_results
from benchmarks.progress import ProgressBar
from benchmarks.runner import (
    Result,
    params_label,
    parse_prefetch,
    plan,
    run_plan,
    select,
    steps_count,
)
from benchmarks.workloads import discover

Catalogue = Callable[[], list[Workload]]

ROOT = Path(__file__).resolve().parent.parent
PUBLISH = {
    "json": ROOT / "benchmarks" / "results" / "latest.json",
    "plot": ROOT / "benchmarks" / "results" / "plots",
    "markdown": ROOT / "benchmarks" / "RESULTS.md",
    "notes": ROOT / "benchmarks" / "NOTES.md",
    "readme": ROOT / "README.md",
}
"""What ``--publish`` writes (and reads: the notes), unless given otherwise."""


def main(argv: Sequence[str] | None = None, *, catalogue: Catalogue = discover) -> int:
    """The command line; returns the exit status (1 when a workload failed)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["tune"]:
        return tune_main(args[1:])
    return run_main(args, catalogue)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _prefetch_list(text: str) -> list[int]:
    try:
        return parse_prefetch(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _output_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    return path


def run_parser() -> argparse.ArgumentParser:
    """The options of a workload run."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the workloads of WORKLOADS.md and report the median of each figure.",
        epilog="Tune your own handler: python -m benchmarks tune --help",
    )
    add = parser.add_argument
    add("--workload", help="comma-separated ids, e.g. W1,W6a (W6 = W6a and W6b; default: all)")
    add("--list", action="store_true", help="list the workloads and their sweeps, then exit")
    add("--scale", type=_positive_float, default=1.0, help="size factor (default 1.0)")
    add("--prefetch", type=_prefetch_list, help="prefetch values replacing the sweeps', e.g. 1,2,4")
    add("--repeat", type=_positive_int, default=3, help="repetitions per parameter set (default 3)")
    add("--json", type=_output_file, metavar="FILE", help="write one JSON object per result")
    add("--plot", type=Path, metavar="DIR", help="write PNG charts against prefetch to DIR")
    add("--markdown", type=_output_file, metavar="FILE", help="write a results page (markdown)")
    add("--notes", type=Path, metavar="FILE", help="markdown appended to the --markdown page")
    add("--readme", type=Path, metavar="FILE", help="replace the headline block of FILE")
    add(
        "--no-memory",
        action="store_true",
        help="skip the peak-RSS runs (one fresh process per workload and parameter set)",
    )
    add(
        "--publish",
        action="store_true",
        help="the full published run: every workload, --repeat 3, and every output at its "
        "place (results/latest.json, results/plots, RESULTS.md with NOTES.md, README.md)",
    )
    return parser


def _publish_defaults(parser: argparse.ArgumentParser, options: argparse.Namespace) -> None:
    """``--publish``: refuse partial runs, fill in every output path."""
    partial = [
        flag
        for flag, changed in (
            ("--workload", options.workload is not None),
            ("--scale", options.scale != 1.0),
            ("--prefetch", options.prefetch is not None),
            ("--no-memory", options.no_memory),
            ("--list", options.list),
        )
        if changed
    ]
    if partial:
        parser.error(f"argument --publish: publishes full runs only, not with {', '.join(partial)}")
    for name, path in PUBLISH.items():
        if getattr(options, name) is None:
            setattr(options, name, path)


def run_main(args: list[str], catalogue: Catalogue) -> int:
    """Runs the selected workloads and writes the reports asked for."""
    parser = run_parser()
    options = parser.parse_args(args)
    if options.publish:
        _publish_defaults(parser, options)
    if options.readme and not options.readme.is_file():
        parser.error(f"argument --readme: no file {str(options.readme)!r}")
    if options.notes and not options.notes.is_file():
        parser.error(f"argument --notes: no file {str(options.notes)!r}")
    if options.plot and importlib.util.find_spec("matplotlib") is None:
        parser.error("argument --plot: needs matplotlib (pip install 'arvo-concurrent[bench]')")
    try:
        chosen = select(catalogue(), options.workload)
    except ValueError as exc:
        parser.error(f"argument --workload: {exc}")
    steps = plan(chosen, options.prefetch)
    if options.list:
        print(_listing(chosen, steps))
        return 0
    # Taken before the run: the commit and time the figures belong to.
    machine = report.machine_info()
    footprints = not options.no_memory
    with ProgressBar(steps_count(steps, options.repeat, footprints)) as bar:
        results = run_plan(steps, options.scale, options.repeat, bar, footprints=footprints)
    for failed in (r for r in results if r.error):
        print(f"{failed.workload.id} {params_label(failed.params)} failed:", file=sys.stderr)
        print(failed.trace, file=sys.stderr)
    # Files first: they are what a long run is for, and stdout may be a closed pipe.
    _write_reports(options, results, machine, "python -m benchmarks " + shlex.join(args))
    print(report.console_summary(results))
    return 1 if any(r.error for r in results) else 0


def _listing(
    workloads: Sequence[Workload], steps: Sequence[tuple[Workload, dict[str, object]]]
) -> str:
    lines = []
    for w in workloads:
        sets = "; ".join(params_label(params) for wl, params in steps if wl is w)
        lines.append(f"{w.id:<5} {w.name}  [headline: {w.headline}]  sweep: {sets}")
    return "\n".join(lines) if lines else "no workloads found"


def _write_reports(
    options: argparse.Namespace, results: list[Result], machine: dict[str, Any], command: str
) -> None:
    plots = plot_results(results, options.plot) if options.plot else {}
    if options.json:
        report.write_json(options.json, report.records(results, machine, command))
    if options.markdown:
        notes = options.notes.read_text(encoding="utf-8") if options.notes else ""
        page = report.markdown_page(results, machine, command, plots, options.markdown, notes=notes)
        options.markdown.parent.mkdir(parents=True, exist_ok=True)
        options.markdown.write_text(page, encoding="utf-8")
    if options.readme:
        block = report.headlines_block(results, machine, command)
        text = options.readme.read_text(encoding="utf-8")
        options.readme.write_text(report.replace_headlines(text, block), encoding="utf-8")


def tune_parser() -> argparse.ArgumentParser:
    """The options of the tuning mode."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks tune",
        description="Run your handler's events through the broker at each prefetch and "
        f"recommend the smallest prefetch within {tune.TOLERANCE:.0%} of the best throughput.",
    )
    add = parser.add_argument
    add("--handler", required=True, help="module:factory (or file.py:factory) of your handler")
    add("--events", required=True, type=Path, help="a file of ArvoEvent JSON lines")
    add("--prefetch", type=_prefetch_list, default=[1, 2, 4, 8, 16], help="default 1,2,4,8,16")
    add("--repeat", type=_positive_int, default=3, help="repetitions per prefetch (default 3)")
    add("--timeout", type=_positive_float, default=600.0, help="seconds per pass (default 600)")
    return parser


def tune_main(args: list[str]) -> int:
    """Measures the user's handler at each prefetch and prints the table."""
    parser = tune_parser()
    options = parser.parse_args(args)
    try:
        factory = tune.load_factory(options.handler)
        source = tune.make_handler(factory, options.handler).source
    except ValueError as exc:
        parser.error(f"argument --handler: {exc}")
    try:
        events = tune.load_events(options.events, source)
    except ValueError as exc:
        parser.error(f"argument --events: {exc}")
    measure = tune.broker_measure(factory, options.handler, events, options.timeout)
    with ProgressBar(len(options.prefetch) * options.repeat) as bar:
        rows = tune.sweep(options.prefetch, measure, options.repeat, bar)
    print(f"{len(events)} events to {source}, median of {options.repeat} repetition(s)\n")
    print(tune.format_report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
