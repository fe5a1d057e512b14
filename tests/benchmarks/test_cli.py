"""``python -m benchmarks``: options, errors for bad input, the reports it writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import benchmarks.__main__ as cli
from benchmarks import report
from benchmarks.__main__ import main
from benchmarks.core import Workload
from tests.benchmarks.fakes import BROKEN, CATALOGUE

EXAMPLE_EVENTS = Path(__file__).parents[2] / "benchmarks" / "examples" / "io_events.jsonl"


def _catalogue() -> list[Workload]:
    return list(CATALOGUE)


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv), catalogue=_catalogue)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workload", "W2,W99"], "argument --workload: unknown workload W99 (available: W2, W6a"),
        (["--prefetch", "1,two,4"], "argument --prefetch: prefetch 'two' in '1,two,4' is not a"),
        (["--prefetch", "0"], "prefetch '0' in '0' is not a positive integer"),
        (["--scale", "0"], "argument --scale: '0' is not a positive number"),
        (["--scale", "big"], "argument --scale: 'big' is not a positive number"),
        (["--repeat", "0"], "argument --repeat: '0' is not a positive integer"),
        (["--json", "."], "argument --json: '.' is a directory, not a file"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--readme", "no/README.md"], "argument --readme: no file 'no/README.md'"),
        (["--notes", "no/NOTES.md"], "argument --notes: no file 'no/NOTES.md'"),
        (
            ["--publish", "--workload", "W2", "--scale", "0.5"],
            "argument --publish: publishes full runs only, not with --workload, --scale",
        ),
        (["--publish", "--no-memory"], "publishes full runs only, not with --no-memory"),
    ],
)
def test_bad_input_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in _usage_error(capsys, *argv)


def test_list_shows_the_selected_workloads_with_the_overridden_sweep(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--list", "--workload", "W2,W6b", "--prefetch", "2,4"], catalogue=_catalogue) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("W2")
    assert lines[0].endswith("sweep: prefetch=2; prefetch=4")
    assert lines[1].endswith("sweep: threads=16")


def test_a_run_prints_tables_and_writes_json_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--workload", "W2", "--scale", "0.5", "--prefetch", "1,3", "--repeat", "2"]
    argv += ["--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "docs" / "R.md")]
    assert main(argv, catalogue=_catalogue) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split() == ["figure", "prefetch=1", "prefetch=3"]
    assert "efficiency 80.0%" in captured.out
    assert captured.err == ""  # no progress bar off a terminal
    objects = json.loads((tmp_path / "r.json").read_text())
    assert [(o["workload"], o["params"], o["repeat"]) for o in objects] == [
        ("W2", {"prefetch": 1}, 2),
        ("W2", {"prefetch": 3}, 2),
    ]
    assert objects[1]["figures"]["scale"] == 0.5
    assert objects[0]["command"] == "python -m benchmarks " + " ".join(argv)
    page = (tmp_path / "docs" / "R.md").read_text()
    assert "python -m benchmarks --workload W2" in page
    assert "## W2: io-like" in page


def test_a_run_with_plots_links_them_from_the_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="--plot needs the bench extra (matplotlib)")
    argv = ["--workload", "W2", "--repeat", "1", "--plot", str(tmp_path / "plots")]
    argv += ["--markdown", str(tmp_path / "docs" / "R.md")]
    assert main(argv, catalogue=_catalogue) == 0
    page = (tmp_path / "docs" / "R.md").read_text()
    assert "![W2_throughput](../plots/W2_throughput.png)" in page
    assert (tmp_path / "plots" / "W2_throughput.png").is_file()


def test_publish_writes_every_output_and_the_readme_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# P\n\n{report.README_START}\nold\n{report.README_END}\nrest\n")
    notes = tmp_path / "NOTES.md"
    notes.write_text("## Notes\n\nwhy W1 was slow\n")
    monkeypatch.setattr(
        cli,
        "PUBLISH",
        {
            "json": tmp_path / "results" / "latest.json",
            "markdown": tmp_path / "RESULTS.md",
            "notes": notes,
            "readme": readme,
        },
    )
    assert main(["--publish"], catalogue=_catalogue) == 0
    objects = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert {o["repeat"] for o in objects} == {3}
    assert {o["workload"] for o in objects} == {"W2", "W6a", "W6b"}
    assert (tmp_path / "RESULTS.md").read_text().endswith("## Notes\n\nwhy W1 was slow\n")
    text = readme.read_text()
    assert text.startswith(f"# P\n\n{report.README_START}\nGenerated by `python -m benchmarks")
    assert text.endswith(f"{report.README_END}\nrest\n")
    assert "| W2 io-like | prefetch=1 | efficiency 80.0% |" in text
    assert "old" not in text


def test_a_failing_workload_is_reported_and_the_others_still_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--repeat", "1"], catalogue=lambda: [BROKEN, *CATALOGUE])
    captured = capsys.readouterr()
    assert code == 1
    assert "W8 prefetch=1 failed:" in captured.err
    assert "RuntimeError: the broker fell over" in captured.err
    assert "W6b" in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--events", "x.jsonl"], "the following arguments are required: --handler"),
        (["--handler", "nocolon", "--events", "x"], "argument --handler: handler 'nocolon' is"),
        (
            ["--handler", "benchmarks.examples.io_handler:create_handler", "--events", "nope"],
            "argument --events: cannot read events file nope",
        ),
        (["--handler", "a:b", "--events", "x", "--prefetch", "4,"], "prefetch '' in '4,'"),
    ],
)
def test_tune_bad_input_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in _usage_error(capsys, "tune", *argv)


def test_tune_prints_a_table_and_a_recommendation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(EXAMPLE_EVENTS.read_text().splitlines(keepends=True)[:6]))
    argv = ["tune", "--handler", "benchmarks.examples.io_handler:create_handler"]
    argv += ["--events", str(events), "--prefetch", "1,3", "--repeat", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "6 events to com.example.lookup" in out
    table = out[out.index("prefetch  events/s") : out.index("Recommendation")]
    rows = [line.split() for line in table.splitlines()[2:] if line]
    assert [(r[0], r[-2], r[-1]) for r in rows] == [("1", "6", "0"), ("3", "6", "0")]
    assert "Recommendation: prefetch=" in out


def test_tune_with_a_handler_function_is_a_usage_error_saying_what_was_expected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--handler", "tests.benchmarks.handlers:handle_add", "--events", "x.jsonl"]
    err = _usage_error(capsys, "tune", *argv)
    assert "argument --handler: 'tests.benchmarks.handlers:handle_add' takes arguments" in err
    assert "expected module:factory" in err
    assert "Traceback" not in err


def test_plot_without_matplotlib_fails_before_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "matplotlib" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    err = _usage_error(capsys, "--workload", "BROKEN_IF_RUN", "--plot", "out")
    assert "argument --plot: needs matplotlib" in err
