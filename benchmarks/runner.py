"""Runs workloads: selects them, expands their sweeps, repeats each parameter set."""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmarks import footprint
from benchmarks.core import Figures, Params, Workload, median


class Progress(Protocol):
    """What the runner reports to while it works (see :mod:`benchmarks.progress`)."""

    def begin(self, label: str) -> None:
        """A step named ``label`` starts."""

    def advance(self) -> None:
        """The current step is done."""


@dataclass(frozen=True)
class Result:
    """Every repetition of one workload at one parameter set.

    ``error`` is set when a repetition (or the footprint run) raised: ``runs`` then
    holds the repetitions that finished before it, and ``trace`` the traceback, for
    the console only. ``memory`` holds the RSS figures of the workload's footprint,
    measured once in a process of its own (:mod:`benchmarks.footprint`), if it was.
    """

    workload: Workload
    params: dict[str, Any]
    runs: list[Figures]
    repeat: int
    scale: float
    error: str | None = None
    trace: str | None = field(default=None, repr=False)
    memory: Figures = field(default_factory=dict)

    @property
    def figures(self) -> Figures:
        """The median of each figure over the repetitions that report it."""
        return {name: median(values) for name, values in self._values().items()}

    @property
    def spread(self) -> dict[str, tuple[float, float]]:
        """The (min, max) of each figure over the repetitions that report it."""
        return {name: (min(values), max(values)) for name, values in self._values().items()}

    def _values(self) -> dict[str, list[float]]:
        names = dict.fromkeys(name for run in self.runs for name in run)
        return {name: [run[name] for run in self.runs if name in run] for name in names}


def parse_prefetch(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; duplicates dropped, order kept.

    Raises:
        ValueError: naming the first entry that is not a positive integer.
    """
    values: list[int] = []
    for item in text.split(","):
        entry = item.strip()
        if not entry.isdigit() or int(entry) < 1:
            raise ValueError(f"prefetch {entry!r} in {text!r} is not a positive integer")
        values.append(int(entry))
    return list(dict.fromkeys(values))


def select(workloads: Sequence[Workload], spec: str | None) -> list[Workload]:
    """The workloads named by ``spec`` (``"W1,W6a"``; default all), in catalogue order.

    Names are case-insensitive, and a family name selects its variants (``W6`` ->
    ``W6a``, ``W6b``).

    Raises:
        ValueError: naming every unknown name and listing the available ids.
    """
    if spec is None:
        return list(workloads)
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise ValueError(f"no workload named in {spec!r}")
    unknown = [name for name in names if not any(_matches(w.id, name) for w in workloads)]
    if unknown:
        available = ", ".join(w.id for w in workloads) or "none"
        raise ValueError(f"unknown workload {', '.join(unknown)} (available: {available})")
    return [w for w in workloads if any(_matches(w.id, name) for name in names)]


def _matches(workload_id: str, name: str) -> bool:
    wid, wanted = workload_id.lower(), name.lower()
    return wid == wanted or (wid.startswith(wanted) and wid[len(wanted) :].isalpha())


def expand_sweep(sweep: Iterable[Params], prefetches: Sequence[int] | None) -> list[dict[str, Any]]:
    """The parameter sets to run: ``sweep``, with its prefetch values replaced by ``prefetches``.

    Each distinct combination of the other parameters of the sets that have a
    ``prefetch`` runs at every value of ``prefetches``; sets without one run as they are.
    """
    sets = [dict(params) for params in sweep]
    if prefetches is None:
        return sets
    expanded: list[dict[str, Any]] = []
    seen_rests: list[dict[str, Any]] = []
    for params in sets:
        if "prefetch" not in params:
            expanded.append(params)
            continue
        rest = {k: v for k, v in params.items() if k != "prefetch"}
        if rest in seen_rests:
            continue
        seen_rests.append(rest)
        expanded.extend({**params, "prefetch": p} for p in prefetches)
    return expanded


def plan(
    workloads: Iterable[Workload], prefetches: Sequence[int] | None = None
) -> list[tuple[Workload, dict[str, Any]]]:
    """Every (workload, parameter set) pair to run, in order."""
    return [(w, params) for w in workloads for params in expand_sweep(w.sweep, prefetches)]


def steps_count(
    steps: Sequence[tuple[Workload, dict[str, Any]]], repeat: int, footprints: bool
) -> int:
    """How many progress steps :func:`run_plan` reports: repetitions and footprint runs."""
    extra = sum(1 for w, _ in steps if footprints and w.footprint is not None)
    return len(steps) * repeat + extra


def run_plan(
    steps: Sequence[tuple[Workload, dict[str, Any]]],
    scale: float,
    repeat: int,
    progress: Progress,
    *,
    footprints: bool = False,
) -> list[Result]:
    """Runs each step ``repeat`` times; a step that raises is recorded, the rest still run.

    With ``footprints``, each step's footprint (if its workload has one) then runs once
    in a process of its own, for its peak RSS.
    """
    return [
        run_params(w, params, scale, repeat, progress, footprints=footprints) for w, params in steps
    ]


def run_params(
    workload: Workload,
    params: dict[str, Any],
    scale: float,
    repeat: int,
    progress: Progress,
    *,
    footprints: bool = False,
) -> Result:
    """``repeat`` repetitions of ``workload`` at ``params``, then its footprint if asked."""
    runs: list[Figures] = []
    label = f"{workload.id} {params_label(params)}"
    for rep in range(1, repeat + 1):
        progress.begin(f"{label} rep {rep}/{repeat}")
        try:
            runs.append(_checked(workload, workload.run(params, scale)))
        except Exception as exc:
            # A broken workload must not cost the other workloads of a long run.
            return _failed(workload, params, runs, exc, repeat=repeat, scale=scale)
        finally:
            progress.advance()
    if not footprints or workload.footprint is None:
        return Result(workload, params, runs, repeat, scale)
    progress.begin(f"{label} memory")
    try:
        memory = footprint.measure(workload.footprint, params, scale)
    except Exception as exc:
        return _failed(workload, params, runs, exc, repeat=repeat, scale=scale)
    finally:
        progress.advance()
    return Result(workload, params, runs, repeat, scale, memory=memory)


def _failed(
    workload: Workload,
    params: dict[str, Any],
    runs: list[Figures],
    exc: Exception,
    *,
    repeat: int,
    scale: float,
) -> Result:
    error = f"{type(exc).__name__}: {exc}"
    return Result(workload, params, runs, repeat, scale, error, traceback.format_exc())


def params_label(params: Params) -> str:
    """``{"prefetch": 8}`` -> ``"prefetch=8"``; no parameters -> ``"default"``."""
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "default"


def _checked(workload: Workload, figures: object) -> Figures:
    if not isinstance(figures, dict):
        raise TypeError(f"{workload.id}.run returned {type(figures).__name__}, not a dict")
    checked: Figures = {}
    for name, value in figures.items():
        if not isinstance(name, str) or not isinstance(value, int | float):
            raise TypeError(f"{workload.id} figure {name!r} = {value!r} is not a number")
        checked[name] = float(value)
    return checked
