"""A small workflow for the observability tests: an orchestrator, a service, a retry, a domain.

``com.test.otel.workflow`` (a resumable, locking each step on a machine memory) calls
the service ``com.test.otel.service`` and, at the same time, sends a domained
``com.test.otel.notify`` event (domain ``audit``) that goes to ``on_domained_events``.
The service fails its first execution (a ``ConnectionError`` the broker retries) and
answers on the second; the workflow then completes to its initiator. A negative ``n``
makes the workflow fail at once (its initiator gets a system error event).
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from arvo_concurrent import (
    ArvoEvent,
    IMachineMemory,
    create_arvo_contract,
    create_arvo_event_handler,
    create_arvo_orchestrator_contract,
    create_arvo_resumable,
)
from arvo_concurrent.arvo import create_arvo_orchestrator_event_factory

CLIENT = "com.test.otel.client"
WORKFLOW = "arvo.orc.test.otel.workflow"
SERVICE = "com.test.otel.service"
NOTIFY = "com.test.otel.notify"
AUDIT = "audit"


class Number(msgspec.Struct):
    n: int


service_contract = create_arvo_contract(
    uri="#/test/otel/service",
    type=SERVICE,
    versions={"1.0.0": {"accepts": Number, "emits": {"evt.test.otel.service.success": Number}}},
)
notify_contract = create_arvo_contract(
    uri="#/test/otel/notify",
    type=NOTIFY,
    versions={"1.0.0": {"accepts": Number, "emits": {"evt.test.otel.notify.success": Number}}},
)
workflow_contract = create_arvo_orchestrator_contract(
    uri="#/test/otel/workflow",
    name="test.otel.workflow",
    versions={"1.0.0": {"init": Number, "complete": Number}},
)
START = create_arvo_orchestrator_event_factory(workflow_contract.version("1.0.0"))


def start(n: int = 1, **options: Any) -> ArvoEvent:
    return START.init(source=CLIENT, data={"n": n, "parentSubject$$": None}, **options)


def _double(data: Number) -> dict[str, Any]:
    return {"type": "evt.test.otel.service.success", "data": {"n": data.n * 2}}


class FlakyService:
    """The service handler, failing its first ``failures`` executions with ConnectionError."""

    def __init__(self, failures: int = 1) -> None:
        self._inner = create_arvo_event_handler(
            contract=service_contract, handler={"1.0.0": _double}
        )
        self.source = self._inner.source
        self._failures = failures
        self._lock = threading.Lock()

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        with self._lock:
            failing = self._failures > 0
            self._failures -= 1
        if failing:
            raise ConnectionError("service unavailable")
        return self._inner.execute(event)


def workflow(memory: IMachineMemory) -> Any:
    def step(
        input: ArvoEvent | None, service: ArvoEvent | None, context: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if input is not None:
            n = int(input.data["n"])
            if n < 0:
                raise ValueError(f"cannot double {n}")
            return {
                "context": {"n": n},
                "services": [
                    {"type": SERVICE, "data": {"n": n}},
                    {"type": NOTIFY, "data": {"n": n}, "domain": [AUDIT]},
                ],
            }
        if service is not None and service.type == "evt.test.otel.service.success":
            return {"output": {"n": int(service.data["n"])}}
        return None

    return create_arvo_resumable(
        contracts={
            "self": workflow_contract,
            "services": {
                "service": service_contract.version("1.0.0"),
                "notify": notify_contract.version("1.0.0"),
            },
        },
        memory=memory,
        handler={"1.0.0": step},
    )
