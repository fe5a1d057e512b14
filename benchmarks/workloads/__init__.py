"""Workload modules; each exposes ``WORKLOADS: list[benchmarks.core.Workload]``."""

from __future__ import annotations

import importlib
import pkgutil

from benchmarks.core import Workload


def discover() -> list[Workload]:
    """Every workload of every module in this package, sorted by id."""
    found: list[Workload] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "WORKLOADS", []))
    return sorted(found, key=lambda w: w.id)
