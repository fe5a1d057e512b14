"""ArvoOrchestrator: a workflow written as a declarative state machine.

The model: docs/arvo-model.md §6.

``create_arvo_orchestrator(machines=[machine], memory=memory)`` serves one
orchestrator contract with one :class:`~arvo_concurrent.arvo.machine.ArvoMachine` per
contract version. The init event starts the machine (its initial state's entry actions
run and their emits become service calls); every service reply is sent to the stored
snapshot and may take a transition. Reaching a final state emits the completion event
(when the machine has an ``output``) to the subject's ``meta.redirectto``, else its
initiator, and lets the memory clean the finished workflow up.

An emit of another orchestrator's init type starts a child workflow whose completion
(or system error) comes back to this one; ``parentSubject$$`` in its data defaults to
this workflow's subject.

Every step runs in the orchestration wrapper, so it holds the workflow's lock unless
``requires_resource_locking=False``. The stored record is a plain dict:
``{executionStatus, initEventId, subject, parentSubject, status, value, state:
<snapshot>, events: {consumed: id, produced: [ids]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.machine import ArvoMachine, MachineStep
from arvo_concurrent.arvo.orchestration_emitter import OrchestrationEmitter
from arvo_concurrent.arvo.orchestration_wrapper import Step, StepInput
from arvo_concurrent.arvo.violations import ConfigViolation, violation_for
from arvo_concurrent.arvo.workflow_handler import WorkflowHandler
from arvo_concurrent.arvo.workflow_input import validate_input
from arvo_concurrent.memory.interface import IMachineMemory

__all__ = ["ArvoOrchestrator", "create_arvo_orchestrator"]


class _MachineVersion(NamedTuple):
    """One version of the orchestrator: its machine and the emitter of its contracts."""

    machine: ArvoMachine
    emitter: OrchestrationEmitter


class ArvoOrchestrator(WorkflowHandler):
    """A state-machine workflow; see the module docstring.

    Thread-safe: ``execute`` may run for several events at once; the machine memory's
    lock serialises the steps of one workflow. ``execute`` blocks on the lock wait, the
    memory operations and the machine's actions.

    Args:
        machines: one machine per version of the orchestrator contract.
        memory: the machine memory holding each workflow's record.
        execution_units: default ``executionunits`` of emitted events (None: null).
        requires_resource_locking: lock each workflow around a step (default True).
        default_event_emission_domains: ``{"services", "complete", "system_error"}``
            defaults ``[LOCAL]``, ``[ORCHESTRATION_CONTEXT]``, ``[ORCHESTRATION_CONTEXT]``.

    Raises:
        HandlerConfigError: no machines, machines of different orchestrators, two
            machines for one version, a contract version without machine, or a memory
            without the IMachineMemory methods.
    """

    def __init__(
        self,
        *,
        machines: Sequence[ArvoMachine],
        memory: IMachineMemory,
        execution_units: float | None = None,
        requires_resource_locking: bool = True,
        default_event_emission_domains: Mapping[str, Sequence[str | None]] | None = None,
    ) -> None:
        by_version = _machines_by_version(machines)
        first = next(iter(by_version.values()))
        super().__init__(
            contract=first.contracts.self_contract.contract,
            memory=memory,
            execution_units=execution_units,
            requires_resource_locking=requires_resource_locking,
            default_event_emission_domains=default_event_emission_domains,
        )
        self._versions = {
            version: _MachineVersion(machine, self._emitter(machine.contracts))
            for version, machine in by_version.items()
        }

    def _step(self, step: StepInput) -> Step:
        version = self._versions.get(step.subject.orchestrator.version)
        if version is None:
            raise violation_for(
                ConfigViolation,
                f"No machine for {self.source} version {step.subject.orchestrator.version!r}",
                step.event,
            )
        event = validate_input(step.event, version.machine.contracts)
        previous = step.state["state"] if step.state is not None else None
        moved = (
            version.machine.start(event)
            if previous is None
            else version.machine.send(previous, event)
        )
        if previous is not None and not moved.emitted and moved.snapshot == previous:
            return Step([], None, False)
        return self._finish(version, step, event, moved)

    def _finish(
        self, version: _MachineVersion, step: StepInput, event: ArvoEvent, moved: MachineStep
    ) -> Step:
        emitted = version.emitter.step_events(
            moved.emitted,
            moved.snapshot["output"] if moved.completed else None,
            subject=step.subject,
            event=event,
            parent_subject=step.parent_subject,
            init_event_id=step.init_event_id,
        )
        record = {
            "executionStatus": "normal",
            "initEventId": step.init_event_id,
            "subject": event.subject,
            "parentSubject": step.parent_subject,
            "status": moved.snapshot["status"],
            "value": moved.snapshot["value"],
            "state": moved.snapshot,
            "events": {"consumed": event.id, "produced": [e.id for e in emitted]},
        }
        return Step(emitted, record, moved.completed)


def _machines_by_version(machines: object) -> dict[str, ArvoMachine]:
    if not isinstance(machines, Sequence) or not machines:
        raise HandlerConfigError(
            "machines", machines, "machines must be a non-empty list of ArvoMachine"
        )
    by_version: dict[str, ArvoMachine] = {}
    for machine in machines:
        if not isinstance(machine, ArvoMachine):
            raise HandlerConfigError(
                "machines", machine, f"machines must hold ArvoMachine objects, got {machine!r}"
            )
        if machine.source != machines[0].source:
            raise HandlerConfigError(
                "machines",
                machine.source,
                f"All machines must serve one orchestrator: {machines[0].source!r} and "
                f"{machine.source!r} differ",
            )
        if machine.version in by_version:
            raise HandlerConfigError(
                "machines", machine.version, f"Two machines implement version {machine.version}"
            )
        by_version[machine.version] = machine
    contract = machines[0].contracts.self_contract.contract
    missing = [v for v in contract.version_list if v not in by_version]
    if missing:
        raise HandlerConfigError(
            "machines", missing, f"No machine for version(s) {missing} of {contract.uri}"
        )
    return by_version


def create_arvo_orchestrator(
    *,
    machines: Sequence[ArvoMachine],
    memory: IMachineMemory,
    execution_units: float | None = None,
    requires_resource_locking: bool = True,
    default_event_emission_domains: Mapping[str, Sequence[str | None]] | None = None,
) -> ArvoOrchestrator:
    """Build an :class:`ArvoOrchestrator` (arvo-event-handler's ``createArvoOrchestrator``).

    Unlike TypeScript, locking is on unless ``requires_resource_locking=False`` is
    passed, whatever the machines look like.

    Raises:
        HandlerConfigError: see :class:`ArvoOrchestrator`.
    """
    return ArvoOrchestrator(
        machines=machines,
        memory=memory,
        execution_units=execution_units,
        requires_resource_locking=requires_resource_locking,
        default_event_emission_domains=default_event_emission_domains,
    )
