"""The tracing-overhead runner: its figures and its slowdown arithmetic (shapes, not speed)."""

from __future__ import annotations

import pytest

from benchmarks.otel_modes import ENV, broker_options, telemetry_for
from benchmarks.otel_overhead import best, measure, slowdowns


def test_slowdowns_pair_each_repetition_with_the_one_without_telemetry() -> None:
    runs = {
        "off": [{"W1_p1_hops_per_s": 100.0, "W5_p50_us": 50.0}] * 3,
        "api": [
            {"W1_p1_hops_per_s": 100.0, "W5_p50_us": 50.0},
            {"W1_p1_hops_per_s": 95.0, "W5_p50_us": 52.0},
            {"W1_p1_hops_per_s": 50.0, "W5_p50_us": 60.0},
        ],
    }
    table = slowdowns(runs)
    assert table["off"]["W1_p1_hops_per_s"] == (1.0, 1.0, 1.0)
    # A throughput's slowdown is without / with; a latency's is with / without.
    assert table["api"]["W1_p1_hops_per_s"] == pytest.approx((100 / 95, 1.0, 2.0))
    assert table["api"]["W5_p50_us"] == pytest.approx((1.04, 1.0, 1.2))


def test_the_best_run_is_the_fastest_for_throughputs_and_the_cheapest_for_costs() -> None:
    runs = [
        {"W1_p1_hops_per_s": 90.0, "W5_p50_us": 40.0},
        {"W1_p1_hops_per_s": 120.0, "W5_p50_us": 70.0},
    ]
    assert best(runs) == {"W1_p1_hops_per_s": 120.0, "W5_p50_us": 40.0}


@pytest.mark.parametrize("mode", ["off", "api"])
def test_one_process_worth_of_figures(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv(ENV, "unset")  # restored after the test; measure() sets it
    figures = measure(mode, scale=0.001)
    assert set(figures) == {
        "W1_p1_hops_per_s",
        "W1_p8_hops_per_s",
        "W1_p1_cpu_us_per_hop",
        "W1_p8_cpu_us_per_hop",
        "W5_p50_us",
        "W5_p99_us",
    }
    assert all(value > 0 for value in figures.values())


def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "loud")
    with pytest.raises(ValueError, match="off, api, sdk"):
        broker_options()
    assert telemetry_for("off") is None
