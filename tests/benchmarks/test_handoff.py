"""The hand-off diagnostic for W6a: every row measured against the same floor."""

from __future__ import annotations

import pytest

from benchmarks import handoff


def test_the_skeleton_memory_hands_its_writes_to_the_next_lock() -> None:
    memory = handoff.SkeletonMemory()
    try:
        assert memory.lock("wf")
        assert memory.read("wf") is None
        memory.write("wf", {"count": 1})
        assert memory.unlock("wf")
        assert memory.lock("wf")
        assert memory.read("wf") == {"count": 1}
    finally:
        memory.close()


def test_measure_gives_every_row_against_the_floor_of_its_repetition() -> None:
    figures = handoff.measure(50, 2)
    assert list(figures) == ["floor", "echo actor", "skeleton", "memory"]
    assert figures["floor"]["ratio_to_floor"] == [1.0, 1.0]
    for row in figures.values():
        assert len(row["per_s"]) == 2
        assert all(rate > 0 for rate in row["per_s"])
        assert all(cpu_us > 0 for cpu_us in row["cpu_us"])


def test_main_prints_a_line_per_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert handoff.main(["--cycles", "50", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "50 cycles per run, medians (ranges) of 1 runs"
    assert lines[1].split() == ["row", "per_s", "ratio_to_floor", "cpu_us", "switches"]
    assert [line.split()[0] for line in lines[2:]] == ["floor", "echo", "skeleton", "memory"]
