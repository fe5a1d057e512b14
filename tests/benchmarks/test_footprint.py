"""Peak RSS measured in a fresh process, and the runner asking for it."""

from __future__ import annotations

import pytest

from benchmarks import footprint
from benchmarks.runner import run_params
from tests.benchmarks.fakes import ALLOCATING, IO, allocate, fail


class RecordingProgress:
    def __init__(self) -> None:
        self.labels: list[str] = []

    def begin(self, label: str) -> None:
        self.labels.append(label)

    def advance(self) -> None:
        pass


def test_a_fresh_process_reports_what_its_run_added() -> None:
    small = footprint.measure(allocate, {"mb": 1}, 1.0)
    large = footprint.measure(allocate, {"mb": 40}, 1.0)
    assert set(large) == {"peak_rss_mb", "start_rss_mb", "rss_growth_mb"}
    assert large["rss_growth_mb"] >= 38, large
    assert large["peak_rss_mb"] == pytest.approx(large["start_rss_mb"] + large["rss_growth_mb"])
    # The harness's own size is not carried over: both start from a bare interpreter.
    assert large["start_rss_mb"] == pytest.approx(small["start_rss_mb"], abs=8)
    assert large["peak_rss_mb"] - small["peak_rss_mb"] >= 30


def test_a_failing_footprint_names_its_error() -> None:
    with pytest.raises(RuntimeError, match="ValueError: no memory for you"):
        footprint.measure(fail, {}, 1.0)


def test_the_runner_measures_footprints_only_when_asked() -> None:
    progress = RecordingProgress()
    plain = run_params(ALLOCATING, {"mb": 24}, 1.0, 1, progress)
    assert plain.memory == {}
    measured = run_params(ALLOCATING, {"mb": 24}, 1.0, 1, progress, footprints=True)
    assert measured.error is None
    assert measured.memory["rss_growth_mb"] >= 22
    assert progress.labels == ["W5 mb=24 rep 1/1", "W5 mb=24 rep 1/1", "W5 mb=24 memory"]
    # A workload without a footprint just has no memory figures.
    assert run_params(IO, {"prefetch": 1}, 1.0, 1, progress, footprints=True).memory == {}
