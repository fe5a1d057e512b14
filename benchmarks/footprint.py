"""Peak RSS of a workload's library side, measured in a fresh process of its own.

A repetition runs the library and its baselines in the harness process, whose peak RSS
holds everything that ran before. So the runner measures memory apart: a new
interpreter (``python -m benchmarks.footprint``, fed the pickled footprint function and
its arguments) imports only the footprint's module, notes its RSS, runs
``Workload.footprint`` once and reports its peak RSS as JSON. ``start_rss_mb`` is the
interpreter with the library imported; ``rss_growth_mb`` is what the run added on top.

On Linux the peak is the process's ``VmHWM``, reset after the imports (through
``/proc/self/clear_refs``), not ``ru_maxrss``: Linux carries ``ru_maxrss`` across
``exec`` from the forking parent, so a child of a big harness would report the
harness's size. Elsewhere it falls back to ``ru_maxrss``.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.core import Figures, Params, peak_rss_mb

_TIMEOUT_S = 600.0
_ROOT = Path(__file__).resolve().parent.parent

Footprint = Callable[[Params, float], object]


def measure(footprint: Footprint, params: Params, scale: float) -> Figures:
    """Runs ``footprint(params, scale)`` in a new interpreter; returns its RSS figures.

    ``footprint`` must be a module-level function (it is pickled by reference). Blocks
    until the child ends, at most 10 minutes.

    Raises:
        RuntimeError: the child failed (its error is named) or timed out.
    """
    payload = pickle.dumps((footprint, dict(params), scale))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.footprint"],
            input=payload,
            capture_output=True,
            timeout=_TIMEOUT_S,
            cwd=_ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"footprint run gave no answer in {_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"footprint run failed (exit {done.returncode}): {last[0]}")
    figures: Figures = json.loads(done.stdout)
    return figures


def _child() -> None:
    # Unpickling imports the footprint's module: the start figure includes the library,
    # as any process using it would.
    footprint, params, scale = pickle.loads(sys.stdin.buffer.read())
    start = _reset_peak()
    footprint(params, scale)
    peak = _status_mb("VmHWM") or peak_rss_mb()
    figures: dict[str, Any] = {
        "peak_rss_mb": peak,
        "start_rss_mb": start,
        "rss_growth_mb": peak - start,
    }
    print(json.dumps(figures))


def _reset_peak() -> float:
    """Reset the peak RSS to the current RSS where Linux allows it; return the start figure."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS (proc(5))
    except OSError:
        return peak_rss_mb()
    return _status_mb("VmRSS") or peak_rss_mb()


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MiB, or None where there is none."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


if __name__ == "__main__":
    _child()
