"""Selecting workloads, expanding sweeps, repeating and taking medians."""

from __future__ import annotations

import pytest

from benchmarks.core import Workload
from benchmarks.runner import expand_sweep, params_label, parse_prefetch, plan, run_params, select
from tests.benchmarks.fakes import BROKEN, CATALOGUE, IO, MEMORY_A, MEMORY_B, make_counter


class RecordingProgress:
    def __init__(self) -> None:
        self.events: list[str] = []

    def begin(self, label: str) -> None:
        self.events.append(f"begin {label}")

    def advance(self) -> None:
        self.events.append("advance")


def test_parse_prefetch_keeps_order_and_drops_duplicates() -> None:
    assert parse_prefetch("8, 1,2,8") == [8, 1, 2]


@pytest.mark.parametrize("text", ["", "1,,2", "1,a", "0", "-1", "1.5", "2,x3"])
def test_parse_prefetch_names_the_bad_entry(text: str) -> None:
    bad = next(e.strip() for e in text.split(",") if not e.strip().isdigit() or e.strip() == "0")
    with pytest.raises(ValueError, match=f"prefetch '{bad}' in '{text}' is not a positive integer"):
        parse_prefetch(text)


def test_select_defaults_to_every_workload() -> None:
    assert select(CATALOGUE, None) == CATALOGUE


def test_select_is_case_insensitive_keeps_catalogue_order_and_expands_families() -> None:
    assert select(CATALOGUE, "w6b,W2") == [IO, MEMORY_B]
    assert select(CATALOGUE, "W6") == [MEMORY_A, MEMORY_B]


def test_select_names_unknown_workloads_and_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown workload W7, W66 \(available: W2, W6a, W6b\)"):
        select(CATALOGUE, "W2,W7,W66")
    with pytest.raises(ValueError, match="no workload named"):
        select(CATALOGUE, " , ")


def test_expand_sweep_without_override_keeps_the_sweep() -> None:
    assert expand_sweep([{"prefetch": 1}, {}], None) == [{"prefetch": 1}, {}]


def test_expand_sweep_replaces_prefetch_per_combination_of_other_params() -> None:
    sweep: list[dict[str, object]] = [
        {"prefetch": 1, "mode": "a"},
        {"prefetch": 8, "mode": "a"},
        {"threads": 16},
        {"prefetch": 1, "mode": "b"},
    ]
    assert expand_sweep(sweep, [2, 4]) == [
        {"prefetch": 2, "mode": "a"},
        {"prefetch": 4, "mode": "a"},
        {"threads": 16},
        {"prefetch": 2, "mode": "b"},
        {"prefetch": 4, "mode": "b"},
    ]


def test_plan_pairs_each_workload_with_its_expanded_sweep() -> None:
    steps = plan([IO, MEMORY_A], [3])
    assert [(w.id, p) for w, p in steps] == [("W2", {"prefetch": 3}), ("W6a", {})]


def test_run_params_repeats_reports_progress_and_takes_medians() -> None:
    workload, calls = make_counter()
    progress = RecordingProgress()
    result = run_params(workload, {"prefetch": 2}, 0.5, 3, progress)
    assert result.runs == [{"n": 1.0}, {"n": 2.0}, {"n": 3.0}]
    assert result.figures == {"n": 2.0}
    assert (result.repeat, result.scale, result.error) == (3, 0.5, None)
    assert calls == [{"prefetch": 2}] * 3
    assert progress.events == [
        "begin W9 prefetch=2 rep 1/3",
        "advance",
        "begin W9 prefetch=2 rep 2/3",
        "advance",
        "begin W9 prefetch=2 rep 3/3",
        "advance",
    ]


def test_medians_cover_figures_missing_from_some_repetitions() -> None:
    outputs = iter([{"a": 1.0}, {"a": 3.0, "b": 5.0}])
    workload = Workload("W9", "partial", [{}], lambda p, s: next(outputs), "a")
    result = run_params(workload, {}, 1.0, 2, RecordingProgress())
    assert result.figures == {"a": 2.0, "b": 5.0}


def test_a_raising_workload_is_recorded_not_raised() -> None:
    progress = RecordingProgress()
    result = run_params(BROKEN, {"prefetch": 1}, 1.0, 3, progress)
    assert result.error == "RuntimeError: the broker fell over"
    assert result.trace is not None
    assert "the broker fell over" in result.trace
    assert result.runs == []
    assert progress.events == ["begin W8 prefetch=1 rep 1/3", "advance"]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ([1.0], "W9.run returned list, not a dict"),
        ({"n": "fast"}, "W9 figure 'n' = 'fast' is not a number"),
    ],
)
def test_figures_that_are_not_numbers_are_an_error(output: object, message: str) -> None:
    workload = Workload("W9", "bad", [{}], lambda p, s: output, "n")  # type: ignore[arg-type,return-value]
    result = run_params(workload, {}, 1.0, 1, RecordingProgress())
    assert result.error == f"TypeError: {message}"


def test_params_label() -> None:
    assert params_label({"prefetch": 8, "mode": "x"}) == "prefetch=8, mode=x"
    assert params_label({}) == "default"
