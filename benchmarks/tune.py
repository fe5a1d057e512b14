"""Tuning mode: a user's handler and events through the broker at each prefetch.

The sweep and the recommendation are pure (:func:`sweep`, :func:`recommend`): they
take any ``measure(prefetch)`` function. :func:`broker_measure` is the real one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from benchmarks.core import median
from benchmarks.report import text_table
from benchmarks.runner import Progress

TOLERANCE = 0.05


@runtime_checkable
class EventHandler(Protocol):
    """What the factory must return: an Arvo event handler."""

    source: str

    def execute(self, event: Any) -> Sequence[Any] | None:
        """Handles one event and returns the events it emits."""


@dataclass(frozen=True)
class Measurement:
    """One pass of every event through the broker at one prefetch.

    ``unrouted`` counts emitted events that no handler took (expected: the handler
    runs alone); ``failed`` counts every other error the broker reported.
    """

    events: int
    seconds: float
    unrouted: int = 0
    failed: int = 0

    @property
    def events_per_s(self) -> float:
        """Input events handled per second."""
        return self.events / self.seconds if self.seconds > 0 else math.inf


@dataclass(frozen=True)
class TuneRow:
    """The medians of one prefetch's repetitions; error counts are the worst repetition's."""

    prefetch: int
    events_per_s: float
    wall_s: float
    speedup: float
    unrouted: int
    failed: int


Measure = Callable[[int], Measurement]


def sweep(
    prefetches: Sequence[int], measure: Measure, repeat: int, progress: Progress | None = None
) -> list[TuneRow]:
    """Measures every prefetch ``repeat`` times; speed-ups are relative to the first prefetch."""
    rows: list[TuneRow] = []
    for prefetch in prefetches:
        runs = []
        for rep in range(1, repeat + 1):
            if progress:
                progress.begin(f"prefetch={prefetch} rep {rep}/{repeat}")
            runs.append(measure(prefetch))
            if progress:
                progress.advance()
        rate = median([m.events_per_s for m in runs])
        first = rows[0].events_per_s if rows else rate
        rows.append(
            TuneRow(
                prefetch=prefetch,
                events_per_s=rate,
                wall_s=median([m.seconds for m in runs]),
                speedup=rate / first if first > 0 else math.nan,
                unrouted=max(m.unrouted for m in runs),
                failed=max(m.failed for m in runs),
            )
        )
    return rows


def recommend(rows: Sequence[TuneRow], tolerance: float = TOLERANCE) -> TuneRow:
    """The smallest prefetch whose throughput is within ``tolerance`` of the best one.

    More workers than that buy (almost) nothing but threads and memory.
    """
    if not rows:
        raise ValueError("nothing to recommend from: no prefetch was measured")
    best = max(row.events_per_s for row in rows)
    good = [row for row in rows if row.events_per_s >= (1 - tolerance) * best]
    return min(good, key=lambda row: row.prefetch)


def format_report(rows: Sequence[TuneRow], tolerance: float = TOLERANCE) -> str:
    """The table of every prefetch, then the recommendation and its reason."""
    header = ["prefetch", "events/s", "wall s", "speed-up", "unrouted", "failed"]
    table = [
        [
            str(r.prefetch),
            f"{r.events_per_s:,.1f}",
            f"{r.wall_s:.3f}",
            f"{r.speedup:.2f}x",
            str(r.unrouted),
            str(r.failed),
        ]
        for r in rows
    ]
    chosen = recommend(rows, tolerance)
    best = max(rows, key=lambda r: r.events_per_s)
    lines = [
        text_table(header, table),
        "",
        f"Recommendation: prefetch={chosen.prefetch} (the smallest within {tolerance:.0%} of "
        f"the best, {best.events_per_s:,.1f} events/s at prefetch={best.prefetch})",
    ]
    if any(r.unrouted for r in rows):
        lines.append("unrouted: emitted events that no handler took (only yours runs here).")
    if any(r.failed for r in rows):
        lines.append("Warning: some events failed (see 'failed'); the figures include them.")
    return "\n".join(lines)


def load_factory(spec: str) -> Callable[[], object]:
    """The factory named by ``module:factory`` (or ``path/to/file.py:factory``).

    Raises:
        ValueError: naming what could not be found or is not callable.
    """
    module_name, colon, attr = spec.rpartition(":")
    if not colon or not module_name or not attr:
        raise ValueError(f"handler {spec!r} is not of the form module:factory")
    module = _import(module_name)
    factory: object = getattr(module, attr, None)
    if factory is None:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
    if isinstance(factory, EventHandler):
        raise ValueError(
            f"{spec!r} is an event handler itself; --handler names the function that "
            f"creates it ({_EXPECTED})"
        )
    if not callable(factory):
        raise ValueError(f"{spec!r} is a {type(factory).__name__}, not a callable factory")
    return factory


def _import(name: str) -> ModuleType:
    try:
        if name.endswith(".py"):
            return _import_file(Path(name))
        return importlib.import_module(name)
    except ImportError as exc:
        raise ValueError(f"cannot import handler module {name!r}: {exc}") from exc


def _import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ImportError(f"no Python file at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_handler(factory: Callable[[], object], spec: str) -> EventHandler:
    """Calls ``factory`` and checks that it returned a handler.

    Raises:
        ValueError: when ``factory`` needs arguments (it is likely the handler function
            itself, not its factory), or its result has no string ``source`` or no
            ``execute`` method.
    """
    _check_takes_no_arguments(factory, spec)
    handler = factory()
    source = getattr(handler, "source", None)
    if not isinstance(source, str) or not source or not isinstance(handler, EventHandler):
        raise ValueError(
            f"{spec!r} returned {type(handler).__name__}, not an event handler "
            f"(one with a non-empty str 'source' and an 'execute(event)' method; {_EXPECTED})"
        )
    return handler


_EXPECTED = (
    "expected module:factory, a function that takes no arguments and returns a handler, "
    "e.g. def create_handler(): return create_arvo_event_handler(contract=..., handler=...)"
)


def _check_takes_no_arguments(factory: Callable[[], object], spec: str) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # no signature to check (some builtins): calling it will tell
    try:
        signature.bind()
    except TypeError:
        raise ValueError(
            f"{spec!r} takes arguments {signature}, so it is not a handler factory: it "
            f"looks like the handler function itself ({_EXPECTED})"
        ) from None


def load_events(path: Path, source: str) -> list[Any]:
    """The ArvoEvents of a JSON-lines file, every one addressed to handler ``source``.

    Raises:
        ValueError: naming the file and line of the first bad event, or the events
            that the handler would never receive.
    """
    from arvo_concurrent.arvo import ArvoEvent  # noqa: PLC0415 -- the CLI starts without it

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read events file {path}: {exc.strerror or exc}") from exc
    events = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                events.append(ArvoEvent.from_json(line))
            except Exception as exc:
                raise ValueError(f"{path}:{number}: not an ArvoEvent: {exc}") from exc
    if not events:
        raise ValueError(f"events file {path} holds no events")
    stray = sorted({str(e.to) for e in events if e.to != source})
    if stray:
        raise ValueError(
            f"events in {path} are addressed to {', '.join(stray)}, "
            f"but the handler's source is {source!r}"
        )
    return events


def broker_measure(
    factory: Callable[[], object], spec: str, events: Sequence[Any], timeout_s: float
) -> Measure:
    """A ``measure(prefetch)`` that runs ``events`` through a fresh broker and handler."""

    def measure(prefetch: int) -> Measurement:
        return _run_broker(make_handler(factory, spec), events, prefetch, timeout_s)

    return measure


def _run_broker(
    handler: EventHandler, events: Sequence[Any], prefetch: int, timeout_s: float
) -> Measurement:
    from arvo_concurrent.broker import ConcurrentEventBroker, RoutingError  # noqa: PLC0415

    errors = _ErrorCount(RoutingError)

    def run(event: Any, publish: Callable[[Any], None]) -> None:
        for output in handler.execute(event) or ():
            publish(output)

    with ConcurrentEventBroker(on_error=errors.add) as broker:
        broker.subscribe(run, topic=handler.source, prefetch=prefetch)
        t0 = time.perf_counter()
        for event in events:
            broker.publish(event)
        try:
            broker.wait_for_idle(timeout=timeout_s)
        except TimeoutError as exc:
            raise TimeoutError(f"prefetch={prefetch}: {exc}") from exc
        seconds = time.perf_counter() - t0
    return Measurement(len(events), seconds, errors.unrouted, errors.failed)


class _ErrorCount:
    """Counts the broker's error reports, which arrive on the broker's threads."""

    def __init__(self, unrouted_type: type[Exception]) -> None:
        self._lock = threading.Lock()
        self._unrouted_type = unrouted_type
        self.unrouted = 0
        self.failed = 0

    def add(self, error: Exception, event: object) -> None:
        with self._lock:
            if isinstance(error, self._unrouted_type):
                self.unrouted += 1
            else:
                self.failed += 1
