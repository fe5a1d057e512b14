"""ArvoOrchestrator: a workflow written as a declarative state machine (ARVO_MODEL 6).

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

from arvo_concurrent.arvo.domain import ArvoDomain
from arvo_concurrent.arvo.emittable import (
    OrchestrationEmitter,
    SystemErrorEmitter,
    emission_domains,
)
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import HandlerConfigError, SystemErrorSchema
from arvo_concurrent.arvo.machine import ArvoMachine, MachineStep
from arvo_concurrent.arvo.orchestration import OrchestrationWrapper, Step, StepInput, validate_input
from arvo_concurrent.arvo.violations import ConfigViolation
from arvo_concurrent.memory.interface import IMachineMemory

__all__ = ["ArvoOrchestrator", "create_arvo_orchestrator"]

_DEFAULT_DOMAINS = {
    "services": (ArvoDomain.LOCAL,),
    "complete": (ArvoDomain.ORCHESTRATION_CONTEXT,),
    "system_error": (ArvoDomain.ORCHESTRATION_CONTEXT,),
}


class _Version(NamedTuple):
    machine: ArvoMachine
    emitter: OrchestrationEmitter


class ArvoOrchestrator:
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
        domains = emission_domains(default_event_emission_domains, _DEFAULT_DOMAINS)
        self.contract = first.contracts.self_contract.contract
        self.source: str = first.source
        self.execution_units = execution_units
        self.system_error_schema = SystemErrorSchema(
            self.contract.system_error.type, self.contract.system_error.schema
        )
        self._versions = {
            version: _Version(
                machine,
                OrchestrationEmitter(
                    source=self.source,
                    self_contract=machine.contracts.self_contract,
                    services=machine.contracts.services.by_accepts_type,
                    execution_units=execution_units,
                    service_domains=domains["services"],
                    complete_domains=domains["complete"],
                ),
            )
            for version, machine in by_version.items()
        }
        self._wrapper = OrchestrationWrapper(
            source=self.source,
            memory=memory,
            requires_resource_locking=requires_resource_locking,
            system_errors=SystemErrorEmitter(
                source=self.source,
                contract=self.contract,
                execution_units=execution_units,
                domains=domains["system_error"],
            ),
        )

    @property
    def memory(self) -> IMachineMemory:
        """The machine memory."""
        return self._wrapper.memory

    @property
    def requires_resource_locking(self) -> bool:
        """Whether each step holds the workflow's lock."""
        return self._wrapper.requires_resource_locking

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        """Run one workflow step for ``event`` and return the events it emits.

        Raises:
            ViolationError: see ARVO_MODEL 3.3 (input, configuration, subject, memory).
        """
        return self._wrapper.execute(event, self._step)

    def _step(self, step: StepInput) -> Step:
        version = self._versions.get(step.subject.orchestrator.version)
        if version is None:
            raise ConfigViolation(
                f"No machine for {self.source} version {step.subject.orchestrator.version!r} "
                f"(event id={step.event.id!r})",
                {"initiatingEvent": step.event},
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
        self, version: _Version, step: StepInput, event: ArvoEvent, moved: MachineStep
    ) -> Step:
        items = list(moved.emitted)
        output = moved.snapshot["output"]
        if moved.completed and output is not None:
            items.append(version.emitter.completion(output, step.subject, event))
        emitted = version.emitter.events(
            items, event=event, parent_subject=step.parent_subject, init_event_id=step.init_event_id
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
