"""Handlers and events of the PostgreSQL broker tests (real Arvo handlers).

* ``com.test.work``: a plain handler; ``data.mode`` says what it does: ``"ok"`` replies
  ``evt.test.work.success``; ``"fail"`` raises ``ConnectionError``; ``"flaky"`` raises until
  the test's ``Flaky`` runs out; ``"hold"`` blocks until the test sets ``Runs.gate``.
* The W4 workflow (``arvo.orc.bench.sequence`` and ``com.bench.svc``) comes from the
  benchmarks, so the tests and the benchmarks run the same handlers.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from arvo_concurrent import (
    ArvoEvent,
    create_arvo_event_factory,
    create_arvo_event_handler,
    create_simple_arvo_contract,
)

CLIENT = "com.test.client"
WORK = "com.test.work"


class Work(msgspec.Struct):
    n: int
    mode: str = "ok"


class Done(msgspec.Struct):
    n: int


work_contract = create_simple_arvo_contract(
    uri="#/test/work",
    type="test.work",
    versions={"1.0.0": {"accepts": Work, "emits": Done}},
)
WORK_EVENTS = create_arvo_event_factory(work_contract.version("1.0.0"))


class Flaky:
    """How many more times a ``"flaky"`` event fails; thread-safe."""

    def __init__(self, failures: int) -> None:
        self._lock = threading.Lock()
        self.left = failures

    def fail_once_more(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


class Runs:
    """What the handler ran, by event n; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_n: dict[int, int] = {}
        self.started = threading.Semaphore(0)
        self.gate = threading.Event()

    def ran(self, n: int) -> None:
        with self._lock:
            self.by_n[n] = self.by_n.get(n, 0) + 1

    def total(self) -> int:
        with self._lock:
            return sum(self.by_n.values())


class WorkHandler:
    """``com.test.work``: a real Arvo handler behind a wrapper that fails as told.

    The failures are raised by ``execute`` itself (as an unreachable database would
    be), since an Arvo handler turns its function's exceptions into error events.
    """

    def __init__(self, runs: Runs, flaky: Flaky | None = None) -> None:
        self._runs = runs
        self._flaky = flaky
        self._arvo = create_arvo_event_handler(contract=work_contract, handler={"1.0.0": _done})
        self.source = self._arvo.source

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        n, mode = event.data["n"], event.data["mode"]
        self._runs.ran(n)
        if mode == "hold":
            self._runs.started.release()
            self._runs.gate.wait()
        flaky = self._flaky
        if mode == "fail" or (mode == "flaky" and flaky is not None and flaky.fail_once_more()):
            raise ConnectionError(f"work {n} failed")
        return self._arvo.execute(event)


def _done(data: Work) -> dict[str, Any]:
    return {"type": "evt.test.work.success", "data": {"n": data.n}}


def work_handler(runs: Runs, flaky: Flaky | None = None) -> WorkHandler:
    """``com.test.work`` recording its runs in ``runs`` (the broker takes any object with
    ``source`` and ``execute``)."""
    return WorkHandler(runs, flaky)


def work_event(n: int, mode: str = "ok") -> ArvoEvent:
    """A ``com.test.work`` request from :data:`CLIENT`."""
    return WORK_EVENTS.accepts(source=CLIENT, data={"n": n, "mode": mode})
