"""A fan-in workflow for the multi-process tests: init calls a service K times; K replies.

Each reply's step (under the workflow's lock) counts it; the K-th completes the
workflow with the count. The service's replies are built in the test by running
:func:`service_handler` on the calls.
"""

from __future__ import annotations

from typing import Any

import msgspec

from arvo_concurrent import (
    ArvoEvent,
    IArvoEventHandler,
    create_arvo_contract,
    create_arvo_event_handler,
    create_arvo_orchestrator_contract,
    create_arvo_resumable,
)
from arvo_concurrent.arvo import create_arvo_orchestrator_event_factory

CLIENT = "com.pgtest.client"


class Call(msgspec.Struct):
    n: int


svc_contract = create_arvo_contract(
    uri="#/pgtest/svc",
    type="com.pgtest.svc",
    versions={"1.0.0": {"accepts": Call, "emits": {"evt.pgtest.svc.success": Call}}},
)
fanin_contract = create_arvo_orchestrator_contract(
    uri="#/pgtest/fanin",
    name="pgtest.fanin",
    versions={"1.0.0": {"init": Call, "complete": Call}},
)
FANIN = create_arvo_orchestrator_event_factory(fanin_contract.version("1.0.0"))


def service_handler() -> IArvoEventHandler:
    """Echoes the call number back."""

    def call(data: Call) -> dict[str, Any]:
        return {"type": "evt.pgtest.svc.success", "data": {"n": data.n}}

    return create_arvo_event_handler(contract=svc_contract, handler={"1.0.0": call})


def _step(input: ArvoEvent | None, context: dict[str, Any] | None) -> dict[str, Any] | None:
    if input is not None:
        k = int(input.data["n"])
        calls = [{"type": "com.pgtest.svc", "data": {"n": i}} for i in range(k)]
        return {"context": {"k": k, "count": 0}, "services": calls}
    if context is None:
        raise RuntimeError("a reply arrived without workflow state")
    count = context["count"] + 1
    done = {"output": {"n": count}} if count == context["k"] else {}
    return {"context": {**context, "count": count}, **done}


def fanin_resumable(memory: Any) -> IArvoEventHandler:
    """The fan-in resumable on ``memory``."""
    return create_arvo_resumable(
        contracts={"self": fanin_contract, "services": {"svc": svc_contract.version("1.0.0")}},
        memory=memory,
        handler={"1.0.0": _step},
    )


def fanin_init(k: int) -> ArvoEvent:
    """The init event of a fan-in with ``k`` calls."""
    return FANIN.init(source=CLIENT, data={"n": k, "parentSubject$$": None})
