"""JSON records, console tables and the markdown page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.runner import Result
from tests.benchmarks.fakes import BROKEN, IO, MEMORY_A

MACHINE = {
    "platform": "Linux-6.1-x86_64",
    "cpu_count": 2,
    "python": "3.11.7",
    "python_implementation": "CPython",
    "versions": {"arvo-concurrent": "0.1.0", "pykka": "4.5.0"},
    "commit": "abc1234",
    "timestamp": "2025-01-01T00:00:00+00:00",
}


def _results() -> list[Result]:
    runs = [IO.run({"prefetch": p}, 0.1) for p in (1, 10)]
    return [
        Result(IO, {"prefetch": 1}, [runs[0], {**runs[0], "events_per_s": 300.0}], 2, 0.1),
        Result(IO, {"prefetch": 10}, [runs[1]], 2, 0.1),
        Result(MEMORY_A, {}, [{"cycles_per_s": math.inf, "ratio_to_baseline": 0.25}], 2, 0.1),
        Result(BROKEN, {"prefetch": 1}, [], 2, 0.1, error="RuntimeError: boom"),
    ]


def test_machine_info_names_the_versions_and_not_the_host() -> None:
    info = report.machine_info()
    assert set(info["versions"]) == {"arvo-concurrent", "pykka", "msgspec", "tenacity"}
    assert info["versions"]["pykka"]
    assert info["versions"]["arvo-concurrent"]
    assert isinstance(info["cpu_count"], int)
    assert info["python"].count(".") == 2
    assert "T" in info["timestamp"]
    assert __import__("platform").node() not in info["platform"]


def test_json_has_one_strict_object_per_workload_and_parameter_set(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    report.write_json(path, report.records(_results(), MACHINE, "python -m benchmarks"))
    objects = json.loads(path.read_text(), parse_constant=pytest.fail)
    assert [(o["workload"], o["params"]) for o in objects] == [
        ("W2", {"prefetch": 1}),
        ("W2", {"prefetch": 10}),
        ("W6a", {}),
        ("W8", {"prefetch": 1}),
    ]
    first = objects[0]
    assert set(first) == {
        "workload", "name", "params", "headline", "figures", "runs",
        "repeat", "scale", "error", "machine", "command",
    }  # fmt: skip
    assert first["figures"]["events_per_s"] == 200.0
    assert [run["events_per_s"] for run in first["runs"]] == [100.0, 300.0]
    assert (first["repeat"], first["scale"], first["machine"]) == (2, 0.1, MACHINE)
    assert objects[2]["figures"]["cycles_per_s"] is None
    assert objects[3]["error"] == "RuntimeError: boom"
    assert objects[3]["figures"] == {}


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("efficiency", 0.8123, "81.2%"),
        ("cold_efficiency", 0.5, "50.0%"),
        ("ratio_to_baseline", 1.234, "1.23x"),
        ("hops_per_s", 23456.7, "23,457"),
        ("wall_s", 0.01234, "0.0123"),
        ("lost_updates", 0.0, "0"),
        ("wall_s", math.nan, "-"),
        ("wall_s", None, "-"),
    ],
)
def test_format_value(name: str, value: float | None, shown: str) -> None:
    assert report.format_value(name, value) == shown


def test_workload_table_puts_the_headline_then_ratios_first() -> None:
    header, rows = report.workload_rows(_results()[:2])
    assert header == ["figure", "prefetch=1", "prefetch=10"]
    assert [row[0] for row in rows[:2]] == ["efficiency", "events_per_s"]
    assert rows[1] == ["events_per_s", "200", "1,000"]


def test_console_summary_shows_every_workload_headline_ratio_and_error() -> None:
    text = report.console_summary(_results())
    assert "W2  io-like" in text
    assert "W6a  memory-like a" in text
    summary = text[text.index("Summary") :]
    assert "efficiency 80.0%" in summary
    assert "ratio_to_baseline 0.25x" in summary
    assert "RuntimeError: boom" in summary


def test_summary_shows_own_ratios_but_not_the_baselines() -> None:
    figures = {"efficiency": 0.9, "baseline_efficiency": 0.8, "cold_efficiency": 0.7}
    result = Result(IO, {"prefetch": 1}, [figures], 1, 1.0)
    _, rows = report.summary_rows([result])
    assert rows == [["W2", "prefetch=1", "efficiency 90.0%", "cold_efficiency 70.0%"]]


def test_text_table_aligns_columns() -> None:
    table = report.text_table(["figure", "value"], [["a", "1"], ["longer", "1,000"]])
    assert table.splitlines() == [
        "figure  value",
        "------  -----",
        "a           1",
        "longer  1,000",
    ]


def test_markdown_page_has_command_machine_tables_and_relative_plot_links(
    tmp_path: Path,
) -> None:
    page = tmp_path / "RESULTS.md"
    plots = {"W2": [tmp_path / "plots" / "W2_throughput.png"]}
    text = report.markdown_page(_results(), MACHINE, "python -m benchmarks --repeat 2", plots, page)
    assert "```\npython -m benchmarks --repeat 2\n```" in text
    assert "Linux-6.1-x86_64, 2 CPUs, CPython 3.11.7" in text
    assert "commit abc1234" in text
    assert "## W2: io-like" in text
    assert "| events_per_s | 200 | 1,000 |" in text
    assert "![W2_throughput](plots/W2_throughput.png)" in text
    assert "median of 2 repetition(s) at scale 0.1" in text
