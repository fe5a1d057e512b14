"""Every workload of the suite runs at a tiny scale and reports well-formed JSON.

This keeps the harness from rotting; it asserts shapes, never speed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks.core import Workload
from benchmarks.report import machine_info, records
from benchmarks.runner import plan, run_plan
from benchmarks.workloads import discover

WORKLOADS = discover()
# Small enough that the whole suite takes seconds on 2 shared cores.
SCALE = 0.01


class NoProgress:
    def begin(self, label: str) -> None:
        pass

    def advance(self) -> None:
        pass


def test_workloads_are_discovered_with_unique_ids() -> None:
    ids = [w.id for w in WORKLOADS]
    assert ids, "no WORKLOADS list found in benchmarks/workloads/"
    assert len(ids) == len(set(ids)), f"duplicate workload ids: {ids}"


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.id)
def test_workload_runs_at_a_tiny_scale_and_reports_json(workload: Workload) -> None:
    assert workload.sweep, f"{workload.id} has an empty sweep"
    results = run_plan(plan([workload]), SCALE, 1, NoProgress())
    assert not [r.error for r in results if r.error], [r.trace for r in results if r.error]
    text = json.dumps(records(results, machine_info(), "smoke"), allow_nan=False)
    objects: list[dict[str, Any]] = json.loads(text)
    assert [o["params"] for o in objects] == [dict(p) for p in workload.sweep]
    for obj in objects:
        _assert_shape(workload, obj)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.id)
def test_workload_footprint_runs_at_a_tiny_scale(workload: Workload) -> None:
    # In this process: the fresh-process measurement itself is tested in test_footprint.
    assert workload.footprint is not None, f"{workload.id} has no footprint for its peak RSS"
    for params in workload.sweep:
        workload.footprint(params, SCALE)


def test_highlights_name_figures_the_workloads_report() -> None:
    for workload in WORKLOADS:
        figures = workload.run(workload.sweep[0], SCALE)
        missing = [name for name in workload.highlights if name not in figures]
        assert not missing, f"{workload.id} highlights unknown figures {missing}"


def _assert_shape(workload: Workload, obj: dict[str, Any]) -> None:
    assert (obj["workload"], obj["name"], obj["repeat"], obj["scale"]) == (
        workload.id,
        workload.name,
        1,
        SCALE,
    )
    figures = obj["figures"]
    assert workload.headline in figures, f"{workload.id} lacks its headline figure"
    assert all(isinstance(v, float) or v is None for v in figures.values()), figures
    assert obj["runs"] == [figures]
    assert obj["spread"] == {name: [value, value] for name, value in figures.items()}
    assert obj["error"] is None
    assert {"platform", "cpu_count", "python", "versions", "timestamp"} <= set(obj["machine"])
