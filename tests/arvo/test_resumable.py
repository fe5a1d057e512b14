"""ArvoResumable (docs/arvo-model.md §5): the weighted-average run, fan-in, dedupe, concurrency."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pytest

from arvo_concurrent.arvo import (
    ArvoEvent,
    ArvoOrchestrationSubject,
    ConfigViolation,
    ContractViolation,
    IArvoEventHandler,
    VersionedArvoContract,
    create_arvo_event_factory,
)
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.resumable import ArvoResumable, create_arvo_resumable
from arvo_concurrent.memory import ConcurrentMachineMemory
from tests.arvo.contracts import (
    add_contract,
    average_workflow_contract,
    product_contract,
    weighted_average_contract,
)
from tests.arvo.handlers import (
    TEST_SOURCE,
    add_handler,
    assert_same_as_ts,
    human_approval_handler,
    product_handler,
    route_events,
    ts_entry,
    ts_event,
    weighted_average_resumable,
)
from tests.arvo.recording_memory import RecordingMemory

init_factory = create_arvo_event_factory(weighted_average_contract.version("1.0.0"))


def weighted_init(values: list[float]) -> ArvoEvent:
    weight = 1 / len(values)
    return init_factory.accepts(
        source=TEST_SOURCE,
        data={"parentSubject$$": None, "input": [{"value": v, "weight": weight} for v in values]},
    )


def fanned_out(resumable: ArvoResumable, values: list[float]) -> list[ArvoEvent]:
    """Start a weighted average, approve it, and return its product requests."""
    (approval_request,) = resumable.execute(weighted_init(values))
    (approval,) = human_approval_handler().execute(approval_request)
    return resumable.execute(approval)


@pytest.mark.parametrize(
    ("scenario", "approve", "count"),
    [("weighted_average_run", True, 12), ("weighted_average_rejected", False, 4)],
)
def test_runs_match_the_typescript_fixture(scenario: str, approve: bool, count: int) -> None:
    handlers: list[IArvoEventHandler] = [
        add_handler(),
        product_handler(),
        human_approval_handler(approve=approve),
        weighted_average_resumable(RecordingMemory()),
    ]
    first = f"{scenario}.01.arvo.orc.weighted.average"
    routed = route_events(handlers, ts_event(first))
    assert len(routed) == count
    ids: dict[str, str] = {ts_entry(first)["event"]["id"]: routed[0].id}
    for step, event in enumerate(routed[1:], start=2):
        assert_same_as_ts(event, f"{scenario}.{step:02d}.{event.type}", ids)
    assert routed[1].domain == "human.interaction"


def test_completion_output_and_record() -> None:
    memory = RecordingMemory(with_cleanup=False)
    init = weighted_init([10, 20])
    handlers = [add_handler(), product_handler(), human_approval_handler()]
    routed = route_events([*handlers, weighted_average_resumable(memory)], init)
    done = routed[-1]
    assert (done.type, done.data, done.to, done.parentid) == (
        "arvo.orc.weighted.average.done",
        {"output": 7.5},
        TEST_SOURCE,
        init.id,
    )
    record = memory.store[init.subject]
    assert (record["status"], record["initEventId"], record["parentSubject"]) == (
        "done",
        init.id,
        None,
    )
    assert record["state$$"]["currentSubject"] == init.subject
    assert record["events"]["produced"] == [done.id]


def test_a_reply_delivered_twice_is_collected_once() -> None:
    memory = RecordingMemory()
    resumable = weighted_average_resumable(memory)
    first, second = fanned_out(resumable, [10, 20])
    (reply_1,) = product_handler().execute(first)
    (reply_2,) = product_handler().execute(second)
    assert resumable.execute(reply_1) == []
    writes = len(memory.writes)
    assert resumable.execute(reply_1) == []
    assert len(memory.writes) == writes
    (add_request,) = resumable.execute(reply_2)
    assert add_request.data == {"numbers": [5.0, 10.0]}


def test_a_late_duplicate_of_an_earlier_step_is_ignored() -> None:
    memory = RecordingMemory()
    resumable = weighted_average_resumable(memory)
    (approval_request,) = resumable.execute(weighted_init([10, 20]))
    (approval,) = human_approval_handler().execute(approval_request)
    assert len(resumable.execute(approval)) == 2
    assert resumable.execute(approval) == []


def test_fan_in_keeps_the_order_of_the_requests_not_of_the_replies() -> None:
    resumable = weighted_average_resumable(RecordingMemory())
    first, second = fanned_out(resumable, [10, 20])
    assert resumable.execute(product_handler().execute(second)[0]) == []
    (add_request,) = resumable.execute(product_handler().execute(first)[0])
    assert add_request.data == {"numbers": [5.0, 10.0]}


class SharingMemory(RecordingMemory):
    """Returns the stored object itself, as a naive in-process store would."""

    def read(self, id: str) -> dict[str, Any] | None:
        super().read(id)
        return self.store.get(id)


def test_a_step_never_modifies_the_stored_record_in_place() -> None:
    memory = SharingMemory()
    resumable = weighted_average_resumable(memory)
    first, _ = fanned_out(resumable, [10, 20])
    subject = first.subject
    stored = memory.store[subject]
    frozen = copy.deepcopy(stored)
    resumable.execute(product_handler().execute(first)[0])
    assert stored == frozen
    assert memory.store[subject] is not stored


def test_concurrent_replies_from_many_threads_are_all_collected() -> None:
    values = [float(v) for v in range(1, 9)]
    with ConcurrentMachineMemory(lock_max_retries=10) as memory:
        resumable = weighted_average_resumable(memory)
        requests = fanned_out(resumable, values)
        replies = [product_handler().execute(request)[0] for request in requests]
        start = threading.Barrier(len(replies))

        def deliver(reply: ArvoEvent) -> list[ArvoEvent]:
            start.wait()
            return resumable.execute(reply)

        with ThreadPoolExecutor(max_workers=len(replies)) as pool:
            results = list(pool.map(deliver, replies))
        emitted = [event for result in results for event in result]
        assert len(emitted) == 1
        (add_request,) = emitted
        weight = 1 / len(values)
        assert add_request.data == {"numbers": [v * weight for v in values]}
        record = memory.read(add_request.subject)
        assert record is not None
        assert len(record["events"]["handled"]) == 2 + len(values)


def test_the_function_gets_metadata_contracts_and_domain() -> None:
    seen: dict[str, Any] = {}

    def fn(metadata: Any, contracts: Any, domain: Any, input: ArvoEvent | None) -> None:
        seen.update(metadata=metadata, contracts=contracts, domain=domain, input=input)

    resumable = create_arvo_resumable(
        contracts={"self": weighted_average_contract, "services": {}},
        memory=RecordingMemory(),
        handler={"1.0.0": fn},
    )
    init = weighted_init([1, 2])
    padded = msgspec.structs.replace(init, data={**init.data, "extra": 1})
    assert resumable.execute(padded) == []
    assert seen["metadata"] is None
    # The function sees the schema-parsed payload: unknown keys stripped.
    assert seen["input"] == init
    assert isinstance(seen["contracts"]["self"], VersionedArvoContract)
    assert seen["contracts"]["services"] == {}
    assert seen["domain"] == {"self": None, "event": None}


def test_a_finished_workflow_ignores_later_events() -> None:
    memory = RecordingMemory(with_cleanup=False)
    resumable = weighted_average_resumable(memory)
    handlers: list[IArvoEventHandler] = [
        add_handler(),
        product_handler(),
        human_approval_handler(),
        resumable,
    ]
    routed = route_events(handlers, weighted_init([1, 3]))
    last_reply = routed[-2]
    memory.calls.clear()
    extra = msgspec.structs.replace(last_reply, id="another-delivery")
    assert resumable.execute(extra) == []
    assert memory.operations() == ["lock", "read", "unlock"]


def test_an_unknown_subject_version_is_a_config_violation() -> None:
    init = weighted_init([1, 2])
    subject = ArvoOrchestrationSubject.new(
        orchestrator="arvo.orc.weighted.average", version="9.0.0", initiator=TEST_SOURCE
    )
    with pytest.raises(ConfigViolation, match=r"version '9\.0\.0'"):
        weighted_average_resumable(RecordingMemory()).execute(
            msgspec.structs.replace(init, subject=subject)
        )


def test_events_of_unknown_contracts_or_versions_are_violations() -> None:
    resumable = weighted_average_resumable(RecordingMemory())
    (request,) = resumable.execute(weighted_init([1, 2]))
    (reply,) = human_approval_handler().execute(request)
    stranger = msgspec.structs.replace(reply, type="arvo.orc.workflow.average.done")
    with pytest.raises(ConfigViolation, match="Contract resolution failed"):
        resumable.execute(stranger)
    wrong_version = msgspec.structs.replace(
        reply, dataschema="#/org/amas/external/human_approval/2.0.0"
    )
    with pytest.raises(ContractViolation, match="version mismatch"):
        resumable.execute(wrong_version)
    no_schema = msgspec.structs.replace(reply, dataschema=None)
    with pytest.raises(ContractViolation, match="Unparsable dataschema"):
        resumable.execute(no_schema)


def test_a_malformed_return_value_is_a_contract_violation() -> None:
    resumable = create_arvo_resumable(
        contracts={"self": weighted_average_contract, "services": {}},
        memory=RecordingMemory(),
        handler={"1.0.0": lambda: {"outputs": 1}},
    )
    with pytest.raises(ContractViolation, match="unknown keys \\['outputs'\\]"):
        resumable.execute(weighted_init([1, 2]))


@pytest.mark.parametrize(
    ("contracts", "handler", "message"),
    [
        ({"self": weighted_average_contract, "services": {}}, {}, "missing \\['1.0.0'\\]"),
        (
            {"self": weighted_average_contract.version("1.0.0"), "services": {}},
            None,
            "ArvoContract",
        ),
        ({"self": add_contract, "services": {}}, None, "orchestrator contract"),
        ({"self": weighted_average_contract}, None, "contracts must be"),
        (
            {
                "self": weighted_average_contract,
                "services": {
                    "a": product_contract.version("1.0.0"),
                    "b": product_contract.version("1.0.0"),
                },
            },
            None,
            "share uri",
        ),
    ],
)
def test_construction_errors(contracts: dict[str, Any], handler: Any, message: str) -> None:
    with pytest.raises(HandlerConfigError, match=message):
        create_arvo_resumable(
            contracts=contracts,
            memory=RecordingMemory(),
            handler={"1.0.0": lambda: None} if handler is None else handler,
        )


def test_orchestrator_contracts_can_be_services() -> None:
    resumable = create_arvo_resumable(
        contracts={
            "self": weighted_average_contract,
            "services": {"average": average_workflow_contract.version("1.0.0")},
        },
        memory=RecordingMemory(),
        handler={"1.0.0": lambda: None},
    )
    assert resumable.source == "arvo.orc.weighted.average"
    assert resumable.system_error_schema.type == "sys.arvo.orc.weighted.average.error"
