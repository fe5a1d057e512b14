"""The orchestration wrapper shared by resumables and orchestrators (ARVO_MODEL 4.3).

Every event a stateful handler gets runs as **subject check -> lock -> read -> guards
-> run -> write -> [cleanup] -> unlock**, keyed by the event's subject:

* the subject must be an orchestration subject (else ExecutionViolation) naming this
  orchestrator (else the event is ignored, without taking the lock);
* a refused lock raises ``TransactionViolation(LOCK_UNACQUIRED)`` so the broker retries;
  memory errors become TransactionViolations with the matching cause;
* a workflow whose record says ``failure`` ignores later events, and so does a workflow
  without state unless the event is its init event;
* violations raised by the core leave the state untouched and propagate; any other
  error writes a failure record (with the state read before as ``prev_data``, unlike
  arvo-event-handler, 8.E1) and returns system error events to the initiator;
* ``cleanup`` (when the memory has one) runs after the final state of a finished
  workflow was written, while the lock is still held; ``unlock`` always runs last.

This module also holds the rest of what resumables and orchestrators share: the
:class:`WorkflowHandler` base (identity, system errors, the wrapper), the service index,
contract binding and input validation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import msgspec

from arvo_concurrent.arvo.contract import (
    PARENT_SUBJECT_FIELD,
    WILDCARD_VERSION,
    ArvoContract,
    SchemaValidationError,
    VersionedArvoContract,
    is_orchestrator_contract,
    parse_data,
    parse_dataschema,
)
from arvo_concurrent.arvo.domain import ArvoDomain
from arvo_concurrent.arvo.emittable import (
    Domains,
    OrchestrationEmitter,
    SystemErrorEmitter,
    emission_domains,
)
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import HandlerConfigError, SystemErrorSchema, error_payload
from arvo_concurrent.arvo.subject import ArvoOrchestrationSubject, ArvoSubjectError, SubjectContent
from arvo_concurrent.arvo.violations import (
    ConfigViolation,
    ContractViolation,
    ExecutionViolation,
    TransactionCause,
    TransactionViolation,
    ViolationError,
    violation_for,
)
from arvo_concurrent.memory.errors import FencingError
from arvo_concurrent.memory.interface import IMachineMemory

__all__ = [
    "WORKFLOW_EMISSION_DOMAINS",
    "OrchestrationContracts",
    "OrchestrationWrapper",
    "ServiceIndex",
    "Step",
    "StepInput",
    "WorkflowHandler",
    "bind_contracts",
    "check_orchestrator_contract",
    "validate_input",
]

_log = logging.getLogger(__name__)

_C = TypeVar("_C", ArvoContract, VersionedArvoContract)

WORKFLOW_EMISSION_DOMAINS: Mapping[str, Domains] = {
    "services": (ArvoDomain.LOCAL,),
    "complete": (ArvoDomain.ORCHESTRATION_CONTEXT,),
    "system_error": (ArvoDomain.ORCHESTRATION_CONTEXT,),
}
"""The default ``default_event_emission_domains`` of resumables and orchestrators."""


def check_orchestrator_contract(contract: object, field: str) -> None:
    """Raise HandlerConfigError unless ``contract`` is an orchestrator contract (or its version)."""
    if not is_orchestrator_contract(contract):
        raise HandlerConfigError(
            field,
            contract,
            f"{field} must be an orchestrator contract (create_arvo_orchestrator_contract), "
            f"got {contract!r}",
        )


@dataclass(frozen=True, slots=True)
class ServiceIndex:
    """The services a workflow calls, indexed for emitting calls and resolving replies.

    Attributes:
        by_name: the services as given.
        by_accepts_type: the service for each request type it accepts.
        by_response_type: ``(service, schema)`` for each reply type: every emit type
            and the service's ``sys.<type>.error``.
    """

    by_name: Mapping[str, VersionedArvoContract]
    by_accepts_type: Mapping[str, VersionedArvoContract]
    by_response_type: Mapping[str, tuple[VersionedArvoContract, Any]]

    @property
    def response_types(self) -> frozenset[str]:
        """Every event type a service may send back."""
        return frozenset(self.by_response_type)

    @classmethod
    def build(cls, services: object, self_uri: str) -> ServiceIndex:
        """Index ``{name: contract.version(v)}``.

        Raises:
            HandlerConfigError: a service is not a versioned contract, two services share a
                uri or a request type, or a service has the workflow's own uri.
        """
        if not isinstance(services, Mapping):
            raise HandlerConfigError(
                "services", services, f"services must map names to contract versions: {services!r}"
            )
        by_accepts: dict[str, VersionedArvoContract] = {}
        by_response: dict[str, tuple[VersionedArvoContract, Any]] = {}
        uris: dict[str, str] = {}
        for name, contract in services.items():
            where = f"services[{name!r}]"
            if not isinstance(contract, VersionedArvoContract):
                raise HandlerConfigError(
                    where,
                    contract,
                    f"{where} must be a contract version (contract.version('1.0.0'))",
                )
            if contract.uri == self_uri:
                raise HandlerConfigError(where, contract.uri, f"{where} has the workflow's own uri")
            if contract.uri in uris:
                raise HandlerConfigError(
                    where,
                    contract.uri,
                    f"{where} and services[{uris[contract.uri]!r}] share uri {contract.uri!r}",
                )
            uris[contract.uri] = name
            if contract.accepts.type in by_accepts:
                raise HandlerConfigError(
                    where,
                    contract.accepts.type,
                    f"{where}: two services accept {contract.accepts.type!r}",
                )
            by_accepts[contract.accepts.type] = contract
            for event_type, schema in contract.emits.items():
                by_response[event_type] = (contract, schema)
            by_response[contract.system_error.type] = (contract, contract.system_error.schema)
        return cls(dict(services), by_accepts, by_response)


@dataclass(frozen=True, slots=True)
class OrchestrationContracts:
    """The contracts of one workflow version: its own and its services'.

    Attributes:
        self_contract: the orchestrator contract version.
        services: the indexed service contracts.
    """

    self_contract: VersionedArvoContract
    services: ServiceIndex

    @classmethod
    def from_mapping(cls, contracts: Mapping[str, Any]) -> OrchestrationContracts:
        """Bind ``{"self": orchestrator_contract.version(v), "services": {...}}``.

        Raises:
            HandlerConfigError: a key is missing or unknown, or a contract is unsuitable.
        """
        own, services = bind_contracts(
            contracts,
            VersionedArvoContract,
            "contracts['self'] must be an orchestrator contract version (contract.version(v))",
        )
        return cls(own, services)


def bind_contracts(contracts: object, kind: type[_C], rule: str) -> tuple[_C, ServiceIndex]:
    """Split ``{"self": ..., "services": {...}}`` into the checked self contract and the index.

    Args:
        contracts: the mapping a workflow was given.
        kind: what ``contracts["self"]`` must be (a contract, or one of its versions).
        rule: the error message when it is not.

    Raises:
        HandlerConfigError: a key is missing or unknown, or a contract is unsuitable.
    """
    if not isinstance(contracts, Mapping) or set(contracts) != {"self", "services"}:
        raise HandlerConfigError(
            "contracts", contracts, "contracts must be {'self': ..., 'services': {...}}"
        )
    own = contracts["self"]
    if not isinstance(own, kind):
        raise HandlerConfigError("contracts['self']", own, rule)
    check_orchestrator_contract(own, "contracts['self']")
    return own, ServiceIndex.build(contracts["services"], own.uri)


def validate_input(event: ArvoEvent, contracts: OrchestrationContracts) -> ArvoEvent:
    """Check an incoming event against the workflow's contracts (ARVO_MODEL 5.3 step 2).

    The init event must match the self contract; any other event must be a reply
    (success or system error) of one of the services. Returns the event, with ``data``
    replaced by its schema-parsed form when parsing changed it.

    Raises:
        ContractViolation: unparsable dataschema, uri or version mismatch, bad data.
        ConfigViolation: the event type belongs to no known contract.
    """
    parsed = parse_dataschema(event.dataschema)
    if parsed is None:
        raise _contract_violation(f"Unparsable dataschema {event.dataschema!r}", event)
    own = contracts.self_contract
    if event.type == own.accepts.type:
        contract, schema = own, own.accepts.schema
    else:
        found = contracts.services.by_response_type.get(event.type)
        if found is None:
            raise violation_for(
                ConfigViolation,
                f"Contract resolution failed: no contract of {own.accepts.type!r} knows the "
                f"event type {event.type!r}",
                event,
            )
        contract, schema = found
    uri, version = parsed
    if uri != contract.uri:
        raise _contract_violation(
            f"Contract URI mismatch: {contract.uri!r} expected, "
            f"event dataschema {event.dataschema!r}",
            event,
        )
    if version not in (WILDCARD_VERSION, contract.version):
        raise _contract_violation(
            f"Contract version mismatch: {contract.uri} version {contract.version} expected, "
            f"event dataschema {event.dataschema!r}",
            event,
        )
    try:
        data = parse_data(schema, event.data)
    except SchemaValidationError as exc:
        raise _contract_violation(f"Input event payload validation failed: {exc}", event) from None
    if data == event.data:
        return event
    return msgspec.structs.replace(event, data=data)


def _contract_violation(message: str, event: ArvoEvent) -> ContractViolation:
    return violation_for(ContractViolation, message, event)


class StepInput(NamedTuple):
    """What the wrapper hands a workflow's core for one event.

    Attributes:
        event: the event being handled.
        subject: the parsed event subject.
        state: the stored record (None for a new workflow). Never mutate it.
        parent_subject: the parent workflow's subject (child workflows), else None.
        init_event_id: the id of the event that started the workflow.
    """

    event: ArvoEvent
    subject: SubjectContent
    state: dict[str, Any] | None
    parent_subject: str | None
    init_event_id: str


class Step(NamedTuple):
    """What a workflow's core returns for one event.

    Attributes:
        events: the events to emit.
        record: the new record to write, or None to leave the stored one as it is.
        completed: True when the workflow reached its end (cleanup follows the write).
    """

    events: list[ArvoEvent]
    record: dict[str, Any] | None
    completed: bool


CoreFn = Callable[[StepInput], Step]


class OrchestrationWrapper:
    """Runs one workflow step under the machine memory's lock (see the module docstring).

    Thread-safe: it keeps no per-event state, so a broker may call :meth:`execute` from
    several threads at once; the memory's lock serialises steps of one workflow.

    Args:
        source: the orchestrator source (``arvo.orc.<name>``).
        memory: the machine memory.
        requires_resource_locking: lock each workflow instance around a step.
        system_errors: builds the workflow's system error events.
    """

    def __init__(
        self,
        *,
        source: str,
        memory: IMachineMemory,
        requires_resource_locking: bool,
        system_errors: SystemErrorEmitter,
    ) -> None:
        for operation in ("read", "write", "lock", "unlock"):
            if not callable(getattr(memory, operation, None)):
                raise HandlerConfigError(
                    "memory",
                    memory,
                    f"memory must implement IMachineMemory; it has no {operation}()",
                )
        self.source = source
        self.memory = memory
        self.requires_resource_locking = requires_resource_locking
        self._system_errors = system_errors
        cleanup = getattr(memory, "cleanup", None)
        self._cleanup: Callable[[str], object] | None = cleanup if callable(cleanup) else None

    def execute(self, event: ArvoEvent, core: CoreFn) -> list[ArvoEvent]:
        """Run ``core`` for ``event``; blocks on the memory (lock wait, read, write).

        Raises:
            ViolationError: from the subject check, the memory or the core.
        """
        subject = _parse_subject(event)
        if subject.orchestrator.name != self.source:
            _log.warning(
                "Ignoring event %s: its subject names orchestrator %r, not %r",
                event.id,
                subject.orchestrator.name,
                self.source,
            )
            return []
        locked = self._lock(event)
        try:
            return self._run(event, subject, core)
        finally:
            if locked:
                self._unlock(event)

    def _run(self, event: ArvoEvent, subject: SubjectContent, core: CoreFn) -> list[ArvoEvent]:
        state = self._read(event)
        parent_subject: str | None = None
        init_event_id = event.id
        try:
            if state is not None:
                if state.get("executionStatus") == "failure":
                    _log.warning(
                        "Ignoring event %s: workflow %s has failed", event.id, event.subject
                    )
                    return []
                parent_subject = state.get("parentSubject")
                init_event_id = state.get("initEventId") or event.id
            elif event.type != self.source:
                # Routine after cleanup (late replies), so not worth a warning.
                _log.info("Ignoring event %s: no workflow state for its subject", event.id)
                return []
            if event.type == self.source:
                parent_subject = event.data.get(PARENT_SUBJECT_FIELD)
            step = core(StepInput(event, subject, state, parent_subject, init_event_id))
        except ViolationError:
            raise
        except Exception as error:  # noqa: BLE001 - user code: becomes system error events
            return self._fail(
                error,
                event,
                subject,
                state=state,
                parent_subject=parent_subject,
                init_event_id=init_event_id,
            )
        if step.record is not None:
            self._write(event, subject, step.record, state, parent_subject)
            if step.completed and self._cleanup is not None:
                self._clean(event)
        return step.events

    def _fail(
        self,
        error: Exception,
        event: ArvoEvent,
        subject: SubjectContent,
        *,
        state: dict[str, Any] | None,
        parent_subject: str | None,
        init_event_id: str,
    ) -> list[ArvoEvent]:
        _log.error("Workflow %s failed on event %s: %r", event.subject, event.id, error)
        record = {
            "executionStatus": "failure",
            "subject": event.subject,
            "parentSubject": parent_subject,
            "initEventId": init_event_id,
            "error": error_payload(error),
        }
        try:
            self.memory.write(
                event.subject, record, state, self._metadata(event, subject, parent_subject)
            )
        except FencingError as exc:
            # Our lease was lost and another holder carries the workflow on: telling the
            # initiator it failed would be false. The broker retries the event instead.
            raise TransactionViolation(
                TransactionCause.WRITE_MACHINE_MEMORY_FAILURE,
                f"Lost the workflow's lock before recording its failure (event id={event.id!r})",
                event,
            ) from exc
        except Exception:  # noqa: BLE001 - any store failure: logged, errors still go out
            # The system error events still tell the initiator; the write's own failure
            # is only worth a log line, as in arvo-event-handler.
            _log.exception("Could not persist the failure record of %s", event.subject)
        return self._system_errors.events(
            error,
            event=event,
            subject=parent_subject or event.subject,
            to=subject.execution.initiator,
            parentid=init_event_id,
            parent_subject=parent_subject,
        )

    def _lock(self, event: ArvoEvent) -> bool:
        if not self.requires_resource_locking:
            return False
        try:
            acquired = self.memory.lock(event.subject)
        except Exception as exc:
            raise TransactionViolation(
                TransactionCause.LOCK_MACHINE_MEMORY_FAILURE,
                f"Error acquiring the lock of the workflow (event id={event.id!r}): {exc!r}",
                event,
            ) from exc
        if not acquired:
            raise TransactionViolation(
                TransactionCause.LOCK_UNACQUIRED,
                f"Lock acquisition denied: the workflow is busy (event id={event.id!r})",
                event,
            )
        return True

    def _unlock(self, event: ArvoEvent) -> None:
        try:
            if not self.memory.unlock(event.subject):
                _log.warning("Unlock of %s was refused (lease expired?)", event.subject)
        except Exception:  # noqa: BLE001 - unlock is best effort; the lease expires
            _log.exception("Unlock of %s failed; its lease will expire", event.subject)

    def _read(self, event: ArvoEvent) -> dict[str, Any] | None:
        try:
            return self.memory.read(event.subject)
        except Exception as exc:
            raise TransactionViolation(
                TransactionCause.READ_MACHINE_MEMORY_FAILURE,
                f"Error reading the workflow state (event id={event.id!r}): {exc!r}",
                event,
            ) from exc

    def _write(
        self,
        event: ArvoEvent,
        subject: SubjectContent,
        record: dict[str, Any],
        state: dict[str, Any] | None,
        parent_subject: str | None,
    ) -> None:
        try:
            self.memory.write(
                event.subject, record, state, self._metadata(event, subject, parent_subject)
            )
        except Exception as exc:
            raise TransactionViolation(
                TransactionCause.WRITE_MACHINE_MEMORY_FAILURE,
                f"Error writing the workflow state (event id={event.id!r}): {exc!r}",
                event,
            ) from exc

    def _clean(self, event: ArvoEvent) -> None:
        assert self._cleanup is not None
        try:
            self._cleanup(event.subject)
        except Exception:  # noqa: BLE001 - cleanup is best effort
            # The final state is written and the completion must still go out; a
            # leftover record is harmless (later events find a finished workflow).
            _log.exception("Cleanup of finished workflow %s failed", event.subject)

    def _metadata(
        self, event: ArvoEvent, subject: SubjectContent, parent_subject: str | None
    ) -> dict[str, Any]:
        return {
            "subject": event.subject,
            "source": self.source,
            "initiator": subject.execution.initiator,
            "parent_subject": parent_subject,
        }


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
            ViolationError: see ARVO_MODEL 3.3 (input, configuration, subject, memory).
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


def _parse_subject(event: ArvoEvent) -> SubjectContent:
    try:
        return ArvoOrchestrationSubject.parse(event.subject)
    except ArvoSubjectError as exc:
        raise ExecutionViolation(
            f"Invalid event (id={event.id!r}, type={event.type!r}): the subject is not an "
            f"ArvoOrchestrationSubject: {exc}",
            {"initiatingEvent": event},
        ) from None
