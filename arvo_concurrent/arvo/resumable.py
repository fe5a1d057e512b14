"""ArvoResumable: a workflow written as one plain function per version.

The model: docs/arvo-model.md §5.

The function is called once per event of the workflow (the init event, then each
service reply) and declares by parameter name what it needs:

* ``input``: the init event (an ArvoEvent) when handling it, else None;
* ``service``: the service reply (success or ``sys.*.error``) being handled, else None;
* ``context``: the workflow's stored context (what it last returned as ``context``);
* ``metadata``: the whole stored record, or None for a new workflow;
* ``collected_events``: ``{event_type: [ArvoEvent, ...]}``, the replies collected for
  the service calls of the last step that emitted any (fan-in);
* ``contracts``: ``{"self": VersionedArvoContract, "services": {name: ...}}``;
* ``domain``: ``{"self": own contract domain, "event": event domain}``.

It returns None or a dict with any of ``context`` (the new context), ``services``
(a list of service call items, docs/arvo-model.md §5.2) and ``output`` (the completion data).

Fan-out / fan-in: every event a step emits becomes an expected slot; a reply is
matched to its slot by ``parentid``. A reply delivered twice (a broker retry, an
at-least-once transport) is handled once: the record remembers the ids of the events
it consumed, and a repeat is ignored without calling the function. The stored record
is never modified in place (docs/arvo-model.md §8.7): each step builds a new one.

Child workflows: a service whose contract is an orchestrator contract is started with
a subject of its own that records the caller, so its completion (or system error)
comes back to the calling workflow. ``parentSubject$$`` in the call's data defaults to
the calling workflow's subject.

Every step runs in the orchestration wrapper, so it holds the workflow's lock unless
``requires_resource_locking=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from arvo_concurrent.arvo.contract import ArvoContract
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import check_handler_versions
from arvo_concurrent.arvo.injection import Injector
from arvo_concurrent.arvo.orchestration_emitter import OrchestrationEmitter
from arvo_concurrent.arvo.orchestration_wrapper import Step, StepInput
from arvo_concurrent.arvo.output_items import as_items
from arvo_concurrent.arvo.violations import ConfigViolation, ContractViolation, violation_for
from arvo_concurrent.arvo.workflow_contracts import OrchestrationContracts, bind_contracts
from arvo_concurrent.arvo.workflow_handler import WorkflowHandler
from arvo_concurrent.arvo.workflow_input import validate_input
from arvo_concurrent.memory.interface import IMachineMemory

__all__ = ["ArvoResumable", "create_arvo_resumable"]

RESUMABLE_PARAMETERS = (
    "input",
    "service",
    "context",
    "metadata",
    "collected_events",
    "contracts",
    "domain",
)
_RESULT_KEYS = frozenset({"context", "output", "services"})


class _ResumableVersion(NamedTuple):
    """One version of the resumable: contracts, function, emitter, ``contracts`` argument."""

    contracts: OrchestrationContracts
    call: Injector
    emitter: OrchestrationEmitter
    contracts_param: dict[str, Any]


class ArvoResumable(WorkflowHandler):
    """A resumable workflow; see the module docstring.

    Thread-safe: ``execute`` may run for several events at once; the machine memory's
    lock serialises the steps of one workflow. ``execute`` blocks on the lock wait, the
    memory operations and the handler function.

    Args:
        contracts: ``{"self": orchestrator contract, "services": {name: contract.version(v)}}``.
        memory: the machine memory holding each workflow's record.
        handler: ``{version: fn}`` with a function for every version of the self contract.
        execution_units: default ``executionunits`` of emitted events.
        requires_resource_locking: lock each workflow around a step (default True).
        default_event_emission_domains: ``{"services", "complete", "system_error"}``
            defaults ``[LOCAL]``, ``[ORCHESTRATION_CONTEXT]``, ``[ORCHESTRATION_CONTEXT]``.

    Raises:
        HandlerConfigError: bad contracts, a version without function (or the reverse),
            a function declaring an unavailable parameter, or a memory without the
            IMachineMemory methods.
    """

    def __init__(
        self,
        *,
        contracts: Mapping[str, Any],
        memory: IMachineMemory,
        handler: Mapping[str, Callable[..., Any]],
        execution_units: float | None = 0,
        requires_resource_locking: bool = True,
        default_event_emission_domains: Mapping[str, Sequence[str | None]] | None = None,
    ) -> None:
        own, services = bind_contracts(
            contracts,
            ArvoContract,
            "contracts['self'] must be an orchestrator ArvoContract (all its versions are served)",
        )
        check_handler_versions(own, handler)
        super().__init__(
            contract=own,
            memory=memory,
            execution_units=execution_units,
            requires_resource_locking=requires_resource_locking,
            default_event_emission_domains=default_event_emission_domains,
        )
        self._versions = {
            version: self._bind_version(OrchestrationContracts(own.version(version), services), fn)
            for version, fn in handler.items()
        }

    def _bind_version(
        self, bound: OrchestrationContracts, fn: Callable[..., Any]
    ) -> _ResumableVersion:
        version = bound.self_contract.version
        return _ResumableVersion(
            contracts=bound,
            call=Injector(fn, RESUMABLE_PARAMETERS, f"resumable handler for version {version}"),
            emitter=self._emitter(bound),
            contracts_param={"self": bound.self_contract, "services": dict(bound.services.by_name)},
        )

    def _step(self, step: StepInput) -> Step:
        version = self._versions.get(step.subject.orchestrator.version)
        if version is None:
            raise violation_for(
                ConfigViolation,
                f"No handler for {self.source} version {step.subject.orchestrator.version!r}",
                step.event,
            )
        event = validate_input(step.event, version.contracts)
        state = step.state
        events: dict[str, Any] = (state or {}).get("events") or {}
        handled: list[str] = events.get("handled", [])
        if (state is not None and state.get("status") == "done") or event.id in handled:
            return Step([], None, False)
        expected = _collect(events.get("expected") or {}, event)
        is_init = event.type == self.source
        result = version.call(
            {
                "input": event if is_init else None,
                "service": None if is_init else event,
                "context": state.get("state$$") if state is not None else None,
                "metadata": state,
                "collected_events": _collected(expected, event)
                if version.call.wants("collected_events")
                else {},
                "contracts": version.contracts_param,
                "domain": {"self": self.contract.domain, "event": event.domain},
            }
        )
        return self._finish(
            version, step, event, result=result, expected=expected, handled=[*handled, event.id]
        )

    def _finish(
        self,
        version: _ResumableVersion,
        step: StepInput,
        event: ArvoEvent,
        *,
        result: object,
        expected: dict[str, list[dict[str, Any]]],
        handled: list[str],
    ) -> Step:
        returned = _returned(result, event)
        items = as_items(
            returned.get("services"), what=f"Resumable {self.source} services", event=event
        )
        output = returned.get("output")
        emitted = version.emitter.step_events(
            items,
            output,
            subject=step.subject,
            event=event,
            parent_subject=step.parent_subject,
            init_event_id=step.init_event_id,
        )
        previous = step.state.get("state$$") if step.state is not None else None
        record: dict[str, Any] = {
            "executionStatus": "normal",
            "status": "done" if output is not None else "active",
            "initEventId": step.init_event_id,
            "parentSubject": step.parent_subject,
            "subject": event.subject,
            "events": {
                "consumed": event.id,
                "produced": [e.id for e in emitted],
                "expected": {e.id: [] for e in emitted} if emitted else expected,
                "handled": handled,
            },
            "state$$": returned.get("context", previous),
        }
        return Step(emitted, record, output is not None)


def _collect(
    expected: Mapping[str, list[dict[str, Any]]], event: ArvoEvent
) -> dict[str, list[dict[str, Any]]]:
    """A new expected map with ``event`` appended to its request's slot (if it has one)."""
    collected = dict(expected)
    slot = collected.get(event.parentid or "")
    if slot is not None:
        collected[event.parentid or ""] = [*slot, event.to_dict()]
    return collected


def _collected(
    expected: Mapping[str, list[dict[str, Any]]], current: ArvoEvent
) -> dict[str, list[ArvoEvent]]:
    grouped: dict[str, list[ArvoEvent]] = {}
    for slot in expected.values():
        for wire in slot:
            event = current if wire["id"] == current.id else ArvoEvent.from_dict(wire)
            grouped.setdefault(event.type, []).append(event)
    return grouped


def _returned(result: object, event: ArvoEvent) -> Mapping[str, Any]:
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise violation_for(
            ContractViolation,
            f"A resumable handler must return None or a dict with context/output/services, "
            f"got {result!r}",
            event,
        )
    unknown = result.keys() - _RESULT_KEYS
    if unknown:
        raise violation_for(
            ContractViolation,
            f"A resumable handler returned unknown keys {sorted(unknown)}; allowed: "
            f"{sorted(_RESULT_KEYS)}",
            event,
        )
    return result


def create_arvo_resumable(
    *,
    contracts: Mapping[str, Any],
    memory: IMachineMemory,
    handler: Mapping[str, Callable[..., Any]],
    execution_units: float | None = 0,
    requires_resource_locking: bool = True,
    default_event_emission_domains: Mapping[str, Sequence[str | None]] | None = None,
) -> ArvoResumable:
    """Build an :class:`ArvoResumable` (arvo-event-handler's ``createArvoResumable``).

    Unlike TypeScript, locking is on unless ``requires_resource_locking=False`` is
    passed, whatever the number of services.

    Raises:
        HandlerConfigError: see :class:`ArvoResumable`.
    """
    return ArvoResumable(
        contracts=contracts,
        memory=memory,
        handler=handler,
        execution_units=execution_units,
        requires_resource_locking=requires_resource_locking,
        default_event_emission_domains=default_event_emission_domains,
    )
