"""The lock convoy diagnostic: counts every hop, and leaves the library as it found it."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from arvo_concurrent.actors import pool
from arvo_concurrent.broker import tracking
from benchmarks import convoy


def test_trace_counts_every_hop_and_restores_the_library() -> None:
    dispatch = pool.HandlerPool._dispatch
    hops, counts = convoy.trace(200, 2)
    assert sum(hops) == 600
    assert set(counts) == {"pool", "tracker", "wakeups"}
    assert all(len(per_window) == len(hops) for per_window in counts.values())
    assert pool.threading is threading  # type: ignore[attr-defined]
    assert tracking.threading is threading  # type: ignore[attr-defined]
    assert pool.HandlerPool._dispatch is dispatch


def test_counting_lock_counts_only_acquisitions_that_wait() -> None:
    counts: Counter[int] = Counter()
    lock = convoy.CountingLock(counts, convoy._Clock())
    with lock:
        assert lock.locked()
        assert lock.acquire(timeout=0.01) is False
    assert not lock.locked()
    assert sum(counts.values()) == 1


def test_main_prints_one_line_per_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert convoy.main(["--n", "100", "--prefetch", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("300 hops in about")
    assert lines[1].split() == ["window_ms", "hops/s", "contended:", "tracker", "pool", "wake-ups"]
    assert len(lines) >= 3
