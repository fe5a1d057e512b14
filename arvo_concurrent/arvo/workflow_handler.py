"""The base of resumables and orchestrators: identity, emission domains and the wrapper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from arvo_concurrent.arvo.contract import ArvoContract
from arvo_concurrent.arvo.domain import ArvoDomain
from arvo_concurrent.arvo.emission_domains import Domains, emission_domains
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import SystemErrorSchema
from arvo_concurrent.arvo.orchestration_emitter import OrchestrationEmitter
from arvo_concurrent.arvo.orchestration_wrapper import OrchestrationWrapper, Step, StepInput
from arvo_concurrent.arvo.system_error_emitter import SystemErrorEmitter
from arvo_concurrent.arvo.workflow_contracts import OrchestrationContracts
from arvo_concurrent.memory.interface import IMachineMemory

__all__ = ["WORKFLOW_EMISSION_DOMAINS", "WorkflowHandler"]

WORKFLOW_EMISSION_DOMAINS: Mapping[str, Domains] = {
    "services": (ArvoDomain.LOCAL,),
    "complete": (ArvoDomain.ORCHESTRATION_CONTEXT,),
    "system_error": (ArvoDomain.ORCHESTRATION_CONTEXT,),
}
"""The default ``default_event_emission_domains`` of resumables and orchestrators."""


class WorkflowHandler:
    """The part of a resumable and an orchestrator that does not depend on how steps run.

    It holds the handler's identity (``contract``, ``source``, ``execution_units``,
    ``system_error_schema``), its emission domains and the :class:`OrchestrationWrapper`;
    ``execute`` runs the subclass's ``_step`` in the wrapper. Thread-safe as the wrapper.

    Args:
        contract: the orchestrator contract (all versions).
        memory: the machine memory holding each workflow's record.
        execution_units: default ``executionunits`` of emitted events.
        requires_resource_locking: lock each workflow around a step.
        default_event_emission_domains: overrides of :data:`WORKFLOW_EMISSION_DOMAINS`.

    Raises:
        HandlerConfigError: bad emission domains, or a memory without the IMachineMemory
            methods.
    """

    def __init__(
        self,
        *,
        contract: ArvoContract,
        memory: IMachineMemory,
        execution_units: float | None,
        requires_resource_locking: bool,
        default_event_emission_domains: Mapping[str, Sequence[str | None]] | None,
    ) -> None:
        self._domains = emission_domains(default_event_emission_domains, WORKFLOW_EMISSION_DOMAINS)
        self.contract = contract
        self.source: str = contract.type
        self.execution_units = execution_units
        self.system_error_schema = SystemErrorSchema.of(contract)
        self._wrapper = OrchestrationWrapper(
            source=self.source,
            memory=memory,
            requires_resource_locking=requires_resource_locking,
            system_errors=SystemErrorEmitter(
                source=self.source,
                contract=contract,
                execution_units=execution_units,
                domains=self._domains["system_error"],
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
            ViolationError: see docs/arvo-model.md §3.3 (input, configuration, subject, memory).
        """
        return self._wrapper.execute(event, self._step)

    def _step(self, step: StepInput) -> Step:
        raise NotImplementedError

    def _emitter(self, contracts: OrchestrationContracts) -> OrchestrationEmitter:
        """The emitter of one version's service calls and completion."""
        return OrchestrationEmitter(
            source=self.source,
            self_contract=contracts.self_contract,
            services=contracts.services.by_accepts_type,
            execution_units=self.execution_units,
            service_domains=self._domains["services"],
            complete_domains=self._domains["complete"],
        )
