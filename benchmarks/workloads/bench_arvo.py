"""Contracts and handlers shared by the Arvo workflow workloads (W3, W4, W5, W7).

WORKLOADS.md's names map to Arvo types (three dot-separated segments at least):

* ``bench.svc`` is ``com.bench.svc``: a service that sleeps for a given time (a
  simulated remote call) and echoes the call number back; :func:`service_handler`.
* ``bench.a -> bench.b`` is ``com.bench.a -> com.bench.b``: a two-hop chain of trivial
  handlers; ``a`` forwards the request to ``b``, which replies to the initiator;
  :func:`chain_handlers`.
* W1's ``bench.a -> bench.b -> bench.c`` is ``com.bench.hop.a -> .b -> .c``: three
  trivial handlers, each forwarding a new event to the next; ``c`` emits nothing;
  :func:`hop_handlers`.
* ``bench.fanout`` is the resumable ``arvo.orc.bench.fanout``: it calls the service K
  times at once and counts the replies (fan-out / fan-in); :func:`fanout_resumable`.
* ``arvo.orc.bench.sequence``: a resumable that calls the service N times, one call
  after the other; :func:`sequence_resumable`.
* :class:`CountingMemory`: a machine memory wrapper that counts refused locks.

Every handler is a real Arvo handler (contract validation, event building, machine
memory), so the workloads measure what a user of the library pays.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import msgspec

from arvo_concurrent import (
    ArvoEvent,
    ConcurrentMachineMemory,
    IArvoEventHandler,
    create_arvo_contract,
    create_arvo_event_factory,
    create_arvo_event_handler,
    create_arvo_orchestrator_contract,
    create_arvo_resumable,
)
from arvo_concurrent.arvo import create_arvo_orchestrator_event_factory

CLIENT = "com.bench.client"
"""The source of every initial event: the party ``resolve()`` returns the result to."""


class Call(msgspec.Struct):
    """A numbered request."""

    n: int


class Count(msgspec.Struct):
    """How many calls a workflow made (its init asks for ``n``, its completion reports it)."""

    n: int


svc_contract = create_arvo_contract(
    uri="#/bench/svc",
    type="com.bench.svc",
    versions={"1.0.0": {"accepts": Call, "emits": {"evt.bench.svc.success": Call}}},
)

# A plain handler's output carries its own contract's dataschema, and the receiving
# handler refuses a foreign contract uri (docs/arvo-model.md §3.2 step 2). For bench.a to call
# bench.b directly, without an orchestrator in between, the two hops share one uri.
_CHAIN_URI = "#/bench/chain"
chain_a_contract = create_arvo_contract(
    uri=_CHAIN_URI,
    type="com.bench.a",
    versions={"1.0.0": {"accepts": Call, "emits": {"com.bench.b": Call}}},
)
chain_b_contract = create_arvo_contract(
    uri=_CHAIN_URI,
    type="com.bench.b",
    versions={"1.0.0": {"accepts": Call, "emits": {"evt.bench.b.success": Call}}},
)
CHAIN = create_arvo_event_factory(chain_a_contract.version("1.0.0"))

# W1's chain; one uri for the three hops, as for bench.a -> bench.b above.
_HOP_URI = "#/bench/hop"
HOP_A, HOP_B, HOP_C = "com.bench.hop.a", "com.bench.hop.b", "com.bench.hop.c"
hop_contracts = [
    create_arvo_contract(
        uri=_HOP_URI,
        type=accepts,
        versions={"1.0.0": {"accepts": Call, "emits": {emits: Call} if emits else {}}},
    )
    for accepts, emits in ((HOP_A, HOP_B), (HOP_B, HOP_C), (HOP_C, None))
]
HOP = create_arvo_event_factory(hop_contracts[0].version("1.0.0"))

fanout_contract = create_arvo_orchestrator_contract(
    uri="#/bench/fanout",
    name="bench.fanout",
    versions={"1.0.0": {"init": Count, "complete": Count}},
)
FANOUT = create_arvo_orchestrator_event_factory(fanout_contract.version("1.0.0"))

sequence_contract = create_arvo_orchestrator_contract(
    uri="#/bench/sequence",
    name="bench.sequence",
    versions={"1.0.0": {"init": Count, "complete": Count}},
)
SEQUENCE = create_arvo_orchestrator_event_factory(sequence_contract.version("1.0.0"))


def service_handler(delay_s: float) -> IArvoEventHandler:
    """``bench.svc``: blocks ``delay_s`` (0: not at all), then echoes the call number."""

    def call(data: Call) -> dict[str, Any]:
        if delay_s:
            time.sleep(delay_s)
        return {"type": "evt.bench.svc.success", "data": {"n": data.n}}

    return create_arvo_event_handler(contract=svc_contract, handler={"1.0.0": call})


def chain_handlers() -> list[IArvoEventHandler]:
    """``bench.a`` (forwards to ``bench.b``, replies going to the initiator) and ``bench.b``."""

    def forward(event: ArvoEvent, data: Call) -> dict[str, Any]:
        return {
            "type": "com.bench.b",
            "to": "com.bench.b",
            "redirectto": event.source,
            "data": {"n": data.n},
        }

    def reply(data: Call) -> dict[str, Any]:
        return {"type": "evt.bench.b.success", "data": {"n": data.n}}

    return [
        create_arvo_event_handler(contract=chain_a_contract, handler={"1.0.0": forward}),
        create_arvo_event_handler(contract=chain_b_contract, handler={"1.0.0": reply}),
    ]


def hop_handlers() -> list[IArvoEventHandler]:
    """W1's ``bench.a -> bench.b -> bench.c``: each builds a new event for the next."""

    def forward_to(to: str) -> Any:
        def forward(data: Call) -> dict[str, Any]:
            return {"type": to, "to": to, "data": {"n": data.n}}

        return forward

    def last(data: Call) -> None:
        return None

    steps = [forward_to(HOP_B), forward_to(HOP_C), last]
    return [
        create_arvo_event_handler(contract=contract, handler={"1.0.0": step})
        for contract, step in zip(hop_contracts, steps, strict=True)
    ]


def hop_request(n: int = 0) -> ArvoEvent:
    """A fresh event to ``bench.a`` (W1), from :data:`CLIENT`."""
    return HOP.accepts(source=CLIENT, data={"n": n})


def chain_request(n: int = 0) -> ArvoEvent:
    """A fresh request to ``bench.a`` from :data:`CLIENT`."""
    return CHAIN.accepts(source=CLIENT, data={"n": n})


def _svc_call(n: int) -> dict[str, Any]:
    return {"type": "com.bench.svc", "data": {"n": n}}


def _fanout_step(locked_s: float) -> Any:
    """The fan-out step; each reply step also holds the lock ``locked_s`` (0: no longer)."""

    def step(input: ArvoEvent | None, context: dict[str, Any] | None) -> dict[str, Any] | None:
        """Init: call the service K times at once. Each reply: count it; at K, complete."""
        if input is not None:
            k = int(input.data["n"])
            calls = [_svc_call(i) for i in range(k)]
            return {"context": {"k": k, "count": 0}, "services": calls}
        if context is None:
            raise RuntimeError("a bench.fanout reply arrived without workflow state")
        if locked_s:
            time.sleep(locked_s)  # the step runs under the instance lock
        count = context["count"] + 1
        done = {"output": {"n": count}} if count == context["k"] else {}
        return {"context": {**context, "count": count}, **done}

    return step


def fanout_resumable(memory: Any, locked_s: float = 0.0) -> IArvoEventHandler:
    """``arvo.orc.bench.fanout`` on ``memory`` (any IMachineMemory).

    Each reply step holds the instance lock ``locked_s`` seconds longer than its own work.
    """
    return create_arvo_resumable(
        contracts={"self": fanout_contract, "services": {"svc": svc_contract.version("1.0.0")}},
        memory=memory,
        handler={"1.0.0": _fanout_step(locked_s)},
    )


def fanout_init(k: int) -> ArvoEvent:
    """The init event of a fan-out workflow with ``k`` service calls."""
    return FANOUT.init(source=CLIENT, data={"n": k, "parentSubject$$": None})


def _sequence_step(
    input: ArvoEvent | None, context: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Init: make the first call. Each reply: make the next one, or complete after the last."""
    if input is not None:
        return {"context": {"left": int(input.data["n"]) - 1}, "services": [_svc_call(0)]}
    if context is None:
        raise RuntimeError("a bench.sequence reply arrived without workflow state")
    left = context["left"]
    if left == 0:
        return {"output": {"n": 0}}
    return {"context": {"left": left - 1}, "services": [_svc_call(left)]}


def sequence_resumable(memory: Any) -> IArvoEventHandler:
    """``arvo.orc.bench.sequence`` on ``memory`` (any IMachineMemory)."""
    return create_arvo_resumable(
        contracts={"self": sequence_contract, "services": {"svc": svc_contract.version("1.0.0")}},
        memory=memory,
        handler={"1.0.0": _sequence_step},
    )


def sequence_init(calls: int) -> ArvoEvent:
    """The init event of a sequential workflow with ``calls`` service calls."""
    return SEQUENCE.init(source=CLIENT, data={"n": calls, "parentSubject$$": None})


class CountingMemory:
    """A ConcurrentMachineMemory that counts the ``lock`` calls that returned False.

    It implements the same methods (cleanup included) and delegates each one, so a
    workflow on it behaves exactly as on the memory itself.
    """

    def __init__(self, memory: ConcurrentMachineMemory) -> None:
        self._memory = memory
        self._refused = 0
        self._guard = threading.Lock()

    @property
    def failed_locks(self) -> int:
        """How many ``lock`` calls returned False so far."""
        return self._refused

    def read(self, id: str) -> dict[str, Any] | None:
        return self._memory.read(id)

    def write(
        self,
        id: str,
        data: dict[str, Any],
        prev_data: dict[str, Any] | None = None,
        metadata: Any = None,
    ) -> None:
        self._memory.write(id, data, prev_data, metadata)

    def lock(self, id: str) -> bool:
        acquired = self._memory.lock(id)
        if not acquired:
            with self._guard:
                self._refused += 1
        return acquired

    def unlock(self, id: str) -> bool:
        return self._memory.unlock(id)

    def cleanup(self, id: str) -> None:
        self._memory.cleanup(id)
