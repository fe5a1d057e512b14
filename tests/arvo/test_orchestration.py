"""The orchestration wrapper (docs/arvo-model.md §4.3): memory call order, guards, failures."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    ArvoEvent,
    ArvoOrchestrationSubject,
    ContractViolation,
    ExecutionViolation,
    TransactionCause,
    TransactionViolation,
    create_arvo_event_factory,
)
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.orchestrator import ArvoOrchestrator
from arvo_concurrent.arvo.resumable import ArvoResumable
from arvo_concurrent.memory import FencingError
from tests.arvo.contracts import (
    add_contract,
    average_workflow_contract,
    human_approval_contract,
)
from tests.arvo.handlers import (
    TEST_SOURCE,
    add_handler,
    average_orchestrator,
    human_approval_handler,
    product_handler,
    route_events,
    weighted_average_resumable,
)
from tests.arvo.recording_memory import LockReadingMemory, RecordingMemory

init_factory = create_arvo_event_factory(average_workflow_contract.version("1.0.0"))
add_factory = create_arvo_event_factory(add_contract.version("1.0.0"))


def average_init(numbers: list[float] | None = None) -> ArvoEvent:
    return init_factory.accepts(
        source=TEST_SOURCE, data={"parentSubject$$": None, "numbers": numbers or [2, 4, 6, 8]}
    )


def started(memory: RecordingMemory, **options: Any) -> tuple[ArvoOrchestrator, ArvoEvent]:
    """An average orchestrator whose workflow got its init; returns it and the add request."""
    orchestrator = average_orchestrator(memory, **options)
    (request,) = orchestrator.execute(average_init())
    memory.calls.clear()
    return orchestrator, request


def add_reply(request: ArvoEvent) -> ArvoEvent:
    (reply,) = add_handler().execute(request)
    return reply


def test_each_step_locks_reads_writes_then_unlocks_and_cleans_up_at_the_end() -> None:
    memory = RecordingMemory()
    init = average_init()
    routed = route_events([add_handler(), product_handler(), average_orchestrator(memory)], init)
    assert routed[-1].type == "arvo.orc.workflow.average.done"
    step = ["lock", "read", "write", "unlock"]
    assert memory.operations() == [*step, *step, "lock", "read", "write", "cleanup", "unlock"]
    assert {machine_id for _, machine_id in memory.calls} == {init.subject}
    assert memory.store == {}


def test_without_cleanup_the_final_record_stays() -> None:
    memory = RecordingMemory(with_cleanup=False)
    init = average_init()
    routed = route_events([add_handler(), product_handler(), average_orchestrator(memory)], init)
    assert routed[-1].data["average"] == 5
    assert "cleanup" not in memory.operations()
    final = memory.store[init.subject]
    assert (final["status"], final["value"], final["state"]["output"]["average"]) == (
        "done",
        "done",
        5,
    )


def test_locking_can_be_turned_off_explicitly() -> None:
    memory = RecordingMemory()
    orchestrator = average_orchestrator(memory, requires_resource_locking=False)
    assert not orchestrator.requires_resource_locking
    route_events([add_handler(), product_handler(), orchestrator], average_init())
    assert "lock" not in memory.operations()
    assert "unlock" not in memory.operations()
    assert average_orchestrator(memory).requires_resource_locking


def test_a_refused_lock_raises_lock_unacquired_and_touches_nothing() -> None:
    memory = RecordingMemory()
    memory.grant_locks = False
    init = average_init()
    with pytest.raises(TransactionViolation) as caught:
        average_orchestrator(memory).execute(init)
    assert caught.value.cause is TransactionCause.LOCK_UNACQUIRED
    assert caught.value.initiating_event is init
    assert memory.operations() == ["lock"]


@pytest.mark.parametrize(
    ("operation", "cause", "expected_calls"),
    [
        ("lock", TransactionCause.LOCK_MACHINE_MEMORY_FAILURE, ["lock"]),
        ("read", TransactionCause.READ_MACHINE_MEMORY_FAILURE, ["lock", "read", "unlock"]),
        (
            "write",
            TransactionCause.WRITE_MACHINE_MEMORY_FAILURE,
            ["lock", "read", "write", "unlock"],
        ),
    ],
)
def test_memory_failures_become_transaction_violations(
    operation: str, cause: TransactionCause, expected_calls: list[str]
) -> None:
    memory = RecordingMemory()
    memory.fail_on[operation] = ConnectionError("store down")
    with pytest.raises(TransactionViolation, match="store down") as caught:
        average_orchestrator(memory).execute(average_init())
    assert caught.value.cause is cause
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert memory.operations() == expected_calls


def test_unlock_and_cleanup_failures_do_not_lose_the_step() -> None:
    memory = RecordingMemory()
    orchestrator, request = started(memory)
    memory.fail_on["unlock"] = ConnectionError("unlock lost")
    (product_request,) = orchestrator.execute(add_reply(request))
    memory.fail_on["cleanup"] = ConnectionError("cleanup lost")
    (product_reply,) = product_handler().execute(product_request)
    (done,) = orchestrator.execute(product_reply)
    assert done.type == "arvo.orc.workflow.average.done"
    assert memory.operations()[-3:] == ["write", "cleanup", "unlock"]


def test_write_gets_the_previous_state_and_transition_metadata() -> None:
    memory = RecordingMemory()
    orchestrator, request = started(memory)
    before = memory.store[request.subject]
    orchestrator.execute(add_reply(request))
    machine_id, data, prev_data, metadata = memory.writes[-1]
    assert machine_id == request.subject
    assert prev_data == before
    assert data["value"] == "divide"
    assert metadata == {
        "subject": request.subject,
        "source": "arvo.orc.workflow.average",
        "initiator": TEST_SOURCE,
        "parent_subject": None,
    }


def test_a_subject_that_is_not_an_orchestration_subject_is_an_execution_violation() -> None:
    memory = RecordingMemory()
    event = msgspec.structs.replace(average_init(), subject="not-a-subject")
    with pytest.raises(ExecutionViolation, match="not an ArvoOrchestrationSubject"):
        average_orchestrator(memory).execute(event)
    assert memory.calls == []


def test_an_event_for_another_orchestrator_is_ignored_without_locking() -> None:
    memory = RecordingMemory()
    other = ArvoOrchestrationSubject.new(
        orchestrator="arvo.orc.someone.else", version="1.0.0", initiator=TEST_SOURCE
    )
    event = msgspec.structs.replace(average_init(), subject=other)
    assert average_orchestrator(memory).execute(event) == []
    assert memory.calls == []


def test_a_reply_for_an_unknown_workflow_is_ignored() -> None:
    memory = RecordingMemory()
    reply = add_reply(add_factory.accepts(source=TEST_SOURCE, data={"numbers": [1]}))
    stray = msgspec.structs.replace(reply, subject=average_init().subject)
    assert average_orchestrator(memory).execute(stray) == []
    assert memory.operations() == ["lock", "read", "unlock"]


def test_a_violation_in_the_step_writes_nothing_and_still_unlocks() -> None:
    memory = RecordingMemory()
    orchestrator, request = started(memory)
    bad = msgspec.structs.replace(add_reply(request), data={"result": "x"})
    with pytest.raises(ContractViolation, match="payload validation failed"):
        orchestrator.execute(bad)
    assert memory.operations() == ["lock", "read", "unlock"]


def rejected_workflow(memory: RecordingMemory) -> tuple[ArvoResumable, ArvoEvent, ArvoEvent]:
    """A weighted average started on ``memory``, its init, and the refused approval for it."""
    resumable = weighted_average_resumable(memory)
    init = create_arvo_event_factory(resumable.contract.version("1.0.0")).accepts(
        source=TEST_SOURCE,
        data={
            "parentSubject$$": None,
            "input": [{"value": 1, "weight": 1}, {"value": 2, "weight": 0}],
        },
    )
    (request,) = resumable.execute(init)
    (rejection,) = human_approval_handler(approve=False).execute(request)
    return resumable, init, rejection


def test_a_failing_workflow_writes_a_failure_record_and_ignores_later_events() -> None:
    memory = RecordingMemory()
    resumable, init, rejection = rejected_workflow(memory)
    approval = create_arvo_event_factory(human_approval_contract.version("1.0.0"))
    state = memory.store[init.subject]

    (error,) = resumable.execute(rejection)
    assert error.type == "sys.arvo.orc.weighted.average.error"
    assert (error.to, error.parentid, error.subject) == (TEST_SOURCE, init.id, init.subject)
    assert error.data["errorMessage"] == "Unable to obtain human approval"
    _, record, prev_data, _ = memory.writes[-1]
    assert prev_data == state
    assert record["executionStatus"] == "failure"
    assert record["error"]["errorName"] == "RuntimeError"

    memory.calls.clear()
    late = approval.emits(
        type="evt.human.approval.success",
        source="com.human.approval",
        subject=init.subject,
        data={"approval": True},
    )
    assert resumable.execute(late) == []
    assert memory.operations() == ["lock", "read", "unlock"]


def test_failure_record_write_errors_are_swallowed() -> None:
    memory = RecordingMemory()
    resumable, _, rejection = rejected_workflow(memory)
    memory.fail_on["write"] = ConnectionError("down")
    (error,) = resumable.execute(rejection)
    assert error.data["errorMessage"] == "Unable to obtain human approval"


def test_a_fenced_failure_record_is_a_transaction_violation_not_a_false_failure() -> None:
    memory = RecordingMemory()
    resumable, _, rejection = rejected_workflow(memory)
    memory.fail_on["write"] = FencingError(rejection.subject, "us", "them", 7)
    with pytest.raises(TransactionViolation, match="WRITE_MACHINE_MEMORY_FAILURE") as info:
        resumable.execute(rejection)
    assert isinstance(info.value.__cause__, FencingError)
    assert memory.operations()[-1] == "unlock"


def test_memory_must_implement_the_protocol() -> None:
    with pytest.raises(HandlerConfigError, match="no read\\(\\)"):
        average_orchestrator(object())  # type: ignore[arg-type]


def test_a_memory_with_lock_and_read_is_locked_and_read_in_one_call() -> None:
    memory = LockReadingMemory()
    init = average_init()
    routed = route_events([add_handler(), product_handler(), average_orchestrator(memory)], init)
    assert routed[-1].data["average"] == 5  # each step got the state written by the last
    step = ["lock_and_read", "write", "unlock"]
    assert memory.operations() == [*step, *step, "lock_and_read", "write", "cleanup", "unlock"]
    previous = [prev for _, _, prev, _ in memory.writes]
    assert previous[0] is None
    assert previous[1:] == [data for _, data, _, _ in memory.writes[:-1]]


def test_lock_and_read_refused_or_failing_is_a_lock_violation_without_unlock() -> None:
    memory = LockReadingMemory()
    memory.grant_locks = False
    with pytest.raises(TransactionViolation) as refused:
        average_orchestrator(memory).execute(average_init())
    assert refused.value.cause is TransactionCause.LOCK_UNACQUIRED
    memory.grant_locks = True
    memory.fail_on["lock_and_read"] = ConnectionError("store down")
    with pytest.raises(TransactionViolation, match="store down") as failed:
        average_orchestrator(memory).execute(average_init())
    assert failed.value.cause is TransactionCause.LOCK_MACHINE_MEMORY_FAILURE
    assert memory.operations() == ["lock_and_read", "lock_and_read"]
