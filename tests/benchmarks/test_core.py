"""The shared measuring helpers and the figure naming conventions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.core import (
    LatencyHistogram,
    is_ratio,
    is_throughput,
    latency_percentile,
    median,
    scaled,
)


def test_median_of_odd_and_even_lengths() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([7.0]) == 7.0


def test_scaled_never_goes_below_the_minimum() -> None:
    assert scaled(20_000, 0.01) == 200
    assert scaled(10, 0.001) == 1
    assert scaled(10, 0.001, minimum=3) == 3


def _nearest_rank(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


@given(
    samples=st.lists(st.floats(min_value=1e-6, max_value=10.0), min_size=1, max_size=300),
    p=st.sampled_from([0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0]),
)
def test_histogram_percentile_is_within_two_percent_above_the_sorted_one(
    samples: list[float], p: float
) -> None:
    histogram = LatencyHistogram()
    for sample in samples:
        histogram.record(sample)
    exact = _nearest_rank(samples, p)
    # The bucket's upper edge: never below the exact value (up to float rounding), at most 2% above.
    assert exact * (1 - 1e-9) <= histogram.percentile(p) <= exact * 1.02 * (1 + 1e-9)
    assert histogram.count == len(samples)


def test_empty_histogram_has_no_percentile() -> None:
    with pytest.raises(ValueError, match="empty"):
        LatencyHistogram().percentile(50)


@pytest.mark.parametrize(
    ("name", "ratio", "throughput", "percentile"),
    [
        ("hops_per_s", False, True, None),
        ("ideal_events_per_s", False, False, None),
        ("baseline_hops_per_s", False, False, None),
        ("ratio_to_baseline", True, False, None),
        ("hops_ratio_to_ideal", True, False, None),
        ("efficiency", True, False, None),
        ("baseline_cold_efficiency", True, False, None),
        ("p99_us", False, False, 99.0),
        ("resolve_p99.9_us", False, False, 99.9),
        ("wall_s", False, False, None),
        ("setup_us", False, False, None),
    ],
)
def test_figure_naming_conventions(
    name: str, ratio: bool, throughput: bool, percentile: float | None
) -> None:
    assert is_ratio(name) is ratio
    assert is_throughput(name) is throughput
    assert latency_percentile(name) == percentile
