"""Refunds that wait for a human: the "Complete Application Pattern" of @arvo-tools/concurrent.

A refund workflow (an ArvoResumable) asks a human to approve each refund. The approval
request carries a ``domain`` ("human.interaction"), so the broker does not route it to
a handler: it hands it to ``on_domained_events``, and ``resolve()`` returns once
everything else is done. The application loop then gets the human's answer outside the
broker (here: a reviewer function; in a service, a UI or a queue), feeds the reply back
through a new broker call, and the workflow resumes where it stopped: its state lives
in the shared ``ConcurrentMachineMemory``, locked per workflow instance. An approved
refund then calls a slow payment service; a rejected one completes at once.

Three customers ask for refunds at the same time, from three threads, on one memory.

Run it with ``bash scripts/dev.sh example`` (or ``python examples/approval_workflow.py``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from arvo_concurrent import (
    ArvoDomain,
    ArvoEvent,
    ConcurrentMachineMemory,
    create_arvo_event_factory,
    create_arvo_event_handler,
    create_arvo_orchestrator_contract,
    create_arvo_resumable,
    create_concurrent_event_broker,
    create_simple_arvo_contract,
)

CLIENT = "com.example.client"
AUTO_APPROVE_LIMIT = 100.0


# -- contracts: what each party accepts and emits -------------------------------------


class RefundRequest(msgspec.Struct):
    order_id: str
    amount: float


class RefundOutcome(msgspec.Struct):
    order_id: str
    refunded: float
    status: str
    transaction_id: str | None = None


class ApprovalRequest(msgspec.Struct):
    prompt: str


class ApprovalDecision(msgspec.Struct):
    approved: bool
    reviewer: str


class Payment(msgspec.Struct):
    order_id: str
    amount: float


class PaymentReceipt(msgspec.Struct):
    transaction_id: str


refund_contract = create_arvo_orchestrator_contract(
    uri="#/example/refund/workflow",
    name="refund.workflow",
    versions={"1.0.0": {"init": RefundRequest, "complete": RefundOutcome}},
)
approval_contract = create_simple_arvo_contract(
    uri="#/example/human/approval",
    type="human.approval",
    domain="human.interaction",
    versions={"1.0.0": {"accepts": ApprovalRequest, "emits": ApprovalDecision}},
)
payment_contract = create_simple_arvo_contract(
    uri="#/example/payment/refund",
    type="payment.refund",
    versions={"1.0.0": {"accepts": Payment, "emits": PaymentReceipt}},
)


# -- handlers ---------------------------------------------------------------------------


def payment_service() -> Any:
    """A slow remote payment API (50 ms a call): many may run at once (prefetch)."""

    def refund(data: Payment) -> dict[str, Any]:
        time.sleep(0.05)
        receipt = {"transaction_id": f"tx-{data.order_id}-{data.amount:.2f}"}
        return {"type": "evt.payment.refund.success", "data": receipt}

    return create_arvo_event_handler(contract=payment_contract, handler={"1.0.0": refund})


def refund_step(
    input: ArvoEvent | None, service: ArvoEvent | None, context: dict[str, Any] | None
) -> dict[str, Any] | None:
    """One step of the refund workflow: called for the request, then for each reply."""
    if input is not None:
        order, amount = input.data["order_id"], input.data["amount"]
        prompt = f"Refund {amount:.2f} EUR for order {order}?"
        return {
            "context": {"order_id": order, "amount": amount},
            "services": [
                {
                    "type": "com.human.approval",
                    "data": {"prompt": prompt},
                    # The approval contract's domain: handed to on_domained_events.
                    "domain": [ArvoDomain.FROM_EVENT_CONTRACT],
                }
            ],
        }
    if context is None or service is None:
        raise RuntimeError("a refund step needs its request or a reply")
    if service.type == "evt.human.approval.success":
        if not service.data["approved"]:
            return {"output": {**context, "refunded": 0.0, "status": "rejected"}}
        payment = {"order_id": context["order_id"], "amount": context["amount"]}
        return {"services": [{"type": "com.payment.refund", "data": payment}]}
    if service.type == "evt.payment.refund.success":
        outcome = {**context, "refunded": context["amount"], "status": "refunded"}
        return {"output": {**outcome, "transaction_id": service.data["transaction_id"]}}
    raise RuntimeError(f"refund failed: {service.type} {service.data}")


def refund_workflow(memory: ConcurrentMachineMemory) -> Any:
    return create_arvo_resumable(
        contracts={
            "self": refund_contract,
            "services": {
                "approval": approval_contract.version("1.0.0"),
                "payment": payment_contract.version("1.0.0"),
            },
        },
        memory=memory,
        handler={"1.0.0": refund_step},
    )


# -- the application loop ---------------------------------------------------------------


def execute_handlers(event: ArvoEvent, memory: ConcurrentMachineMemory) -> list[ArvoEvent]:
    """One broker call (the seed's pattern): run ``event`` as far as it goes in-process.

    Returns the final event routed back to the caller, if any, and every event that
    left through a domain.
    """
    domained: list[ArvoEvent] = []
    handlers = [
        {"handler": refund_workflow(memory), "prefetch": 2},
        {"handler": payment_service(), "prefetch": 10},
    ]
    with create_concurrent_event_broker(
        handlers,
        default_handler_config={"prefetch": 1},
        on_domained_events=lambda item: domained.append(item["event"]),
    ) as handle:
        # A workflow that paused for a human has no final event yet: None, not an error.
        final = handle.resolve(event, timeout=30, missing="none")
    return ([final] if final is not None else []) + domained


def human_reviewer(request: ArvoEvent) -> ArvoEvent:
    """The outside world answering an approval request: small refunds pass."""
    amount = float(request.data["prompt"].split()[1])
    decision = {"approved": amount <= AUTO_APPROVE_LIMIT, "reviewer": "alice"}
    # One write per line, so the three threads' lines never interleave.
    print(
        f"  reviewer sees: {request.data['prompt']!r} -> approved={decision['approved']}\n", end=""
    )
    reply = create_arvo_event_factory(approval_contract.version("1.0.0")).emits(
        type="evt.human.approval.success",
        source=CLIENT,
        subject=request.subject,
        to=request.redirectto or request.source,
        parentid=request.id,
        data=decision,
    )
    return reply


def refund(order_id: str, amount: float, memory: ConcurrentMachineMemory) -> dict[str, Any]:
    """Drive one refund to its end, across as many broker calls as it needs."""
    factory = create_arvo_event_factory(refund_contract.version("1.0.0"))
    event = factory.init(
        source=CLIENT, data={"order_id": order_id, "amount": amount, "parentSubject$$": None}
    )
    while True:
        events = execute_handlers(event, memory)
        request = next((e for e in events if e.type == "com.human.approval"), None)
        if request is None:
            break
        event = human_reviewer(request)
    done = next(e for e in events if e.type == "arvo.orc.refund.workflow.done")
    return done.data


def main() -> list[dict[str, Any]]:
    """Run three refunds at once; returns their outcomes."""
    orders = [("order-1", 25.0), ("order-2", 480.0), ("order-3", 99.5)]
    started = time.perf_counter()
    with ConcurrentMachineMemory() as memory, ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(lambda o: refund(*o, memory), orders))
    elapsed_ms = (time.perf_counter() - started) * 1000
    for outcome in outcomes:
        print(
            f"{outcome['order_id']}: {outcome['status']} {outcome['refunded']:.2f} EUR"
            f" (transaction {outcome.get('transaction_id')})"
        )
    statuses = [o["status"] for o in outcomes]
    assert statuses == ["refunded", "rejected", "refunded"], statuses
    print(f"{len(orders)} workflows, {len(orders)} human decisions, done in {elapsed_ms:.0f} ms")
    return outcomes


if __name__ == "__main__":
    main()
