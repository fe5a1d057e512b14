"""A resumable's or orchestrator's service calls and completion (docs/arvo-model.md §5.5).

Service calls go to the service's type with ``redirectto`` = the workflow; the
completion goes to the subject's ``meta.redirectto``, else the initiator, under the
parent workflow's subject for a child workflow. A call to an orchestrator contract
starts a child workflow and gets a child subject. An emitter is built once per
workflow version and is immutable, so any number of threads may use one at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from arvo_concurrent.arvo.contract import (
    PARENT_SUBJECT_FIELD,
    VersionedArvoContract,
    is_orchestrator_contract,
)
from arvo_concurrent.arvo.emission_domains import Domains, resolved_domains
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.output_event import output_event
from arvo_concurrent.arvo.output_items import (
    ORCHESTRATION_ITEM_KEYS,
    Item,
    item_domains,
    item_routing,
    item_type,
    output_violation,
    parsed_item_data,
    plain_item_data,
)
from arvo_concurrent.arvo.subject import (
    ArvoOrchestrationSubject,
    ArvoSubjectError,
    SubjectContent,
)
from arvo_concurrent.arvo.uri import encode_uri
from arvo_concurrent.arvo.violations import ExecutionViolation

__all__ = ["OrchestrationEmitter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationEmitter:
    """Builds a resumable's or orchestrator's service calls and completion.

    Attributes:
        source: the orchestrator source (``arvo.orc.<name>``).
        self_contract: the orchestrator contract version in use.
        services: the service contracts by the type they accept.
        execution_units: the default ``executionunits`` of emitted events.
        service_domains: default domains of service calls.
        complete_domains: default domains of the completion event.
    """

    source: str
    self_contract: VersionedArvoContract
    services: Mapping[str, VersionedArvoContract]
    execution_units: float | None
    service_domains: Domains
    complete_domains: Domains

    @property
    def complete_type(self) -> str:
        """The type of the workflow's completion event."""
        complete_type: str = self.self_contract.metadata["completeEventType"]
        return complete_type

    def step_events(
        self,
        items: Sequence[Item],
        output: object,
        *,
        subject: SubjectContent,
        event: ArvoEvent,
        parent_subject: str | None,
        init_event_id: str,
    ) -> list[ArvoEvent]:
        """The events of one workflow step: ``items``, then the completion of ``output``.

        No completion when ``output`` is None; ``subject`` is the parsed current subject.

        Raises:
            ContractViolation, ExecutionViolation: as :meth:`completion` and :meth:`events`.
        """
        if output is not None:
            items = [*items, self.completion(output, subject, event)]
        return self.events(
            items, event=event, parent_subject=parent_subject, init_event_id=init_event_id
        )

    def completion(self, output: object, subject: SubjectContent, event: ArvoEvent) -> Item:
        """The completion item for ``output``; ``subject`` is the parsed current subject.

        ``output`` may carry ``__id``, ``__executionunits`` and ``__domain``; the
        completion goes to the subject's ``meta.redirectto``, else its initiator.

        Raises:
            ContractViolation: ``output`` is neither a dict nor a Struct.
        """
        if isinstance(output, msgspec.Struct):
            output = msgspec.to_builtins(output)
        if not isinstance(output, Mapping):
            raise output_violation(
                f"The workflow output must be a dict or a Struct: {output!r}", event
            )
        data = {key: value for key, value in output.items() if not key.startswith("__")}
        return {
            "type": self.complete_type,
            "data": data,
            "id": output.get("__id"),
            "executionunits": output.get("__executionunits"),
            "domain": output.get("__domain") or self.complete_domains,
            "to": subject.meta.get("redirectto") or subject.execution.initiator,
        }

    def events(
        self,
        items: Sequence[Item],
        *,
        event: ArvoEvent,
        parent_subject: str | None,
        init_event_id: str,
    ) -> list[ArvoEvent]:
        """One event per item and distinct resolved domain.

        Raises:
            ContractViolation: an item is malformed or its data fails its schema.
            ExecutionViolation: a child workflow's ``parentSubject$$`` does not parse,
                or its subject cannot be built.
        """
        complete_type = self.complete_type
        out: list[ArvoEvent] = []
        for item in items:
            event_type = item_type(item, ORCHESTRATION_ITEM_KEYS, event)
            if event_type == complete_type:
                out.extend(self._completion_events(item, event, parent_subject, init_event_id))
            else:
                out.extend(self._service_events(item, event_type, event, parent_subject))
        return out

    def _completion_events(
        self, item: Item, event: ArvoEvent, parent_subject: str | None, init_event_id: str
    ) -> list[ArvoEvent]:
        own = self.self_contract
        complete_type = self.complete_type
        data = parsed_item_data(own.emits[complete_type], item.get("data"), complete_type, event)
        domains = self._resolve(item, own, self.complete_domains, event, parent_subject)
        return [
            self._event(
                item,
                event,
                event_type=complete_type,
                data=data,
                dataschema=own.dataschema,
                subject=parent_subject or event.subject,
                domain=domain,
                parentid=init_event_id,
            )
            for domain in domains
        ]

    def _service_events(
        self, item: Item, event_type: str, event: ArvoEvent, parent_subject: str | None
    ) -> list[ArvoEvent]:
        contract = self.services.get(event_type)
        domains = self._resolve(item, contract, self.service_domains, event, parent_subject)
        is_child = False
        if contract is None:
            data = plain_item_data(item.get("data"), event_type, event)
            dataschema = item.get("dataschema")
        else:
            raw = item.get("data")
            is_child = is_orchestrator_contract(contract)
            if is_child:
                raw = _with_parent_subject(raw, event_type, event)
            data = parsed_item_data(contract.accepts.schema, raw, event_type, event)
            dataschema = contract.dataschema
        return [
            self._event(
                item,
                event,
                event_type=event_type,
                data=data,
                dataschema=dataschema,
                subject=(
                    self._child_subject(item, contract, data, domain, event)
                    if is_child and contract is not None
                    else event.subject
                ),
                domain=domain,
                parentid=event.id,
            )
            for domain in domains
        ]

    def _child_subject(
        self,
        item: Item,
        contract: VersionedArvoContract,
        data: Mapping[str, Any],
        domain: str | None,
        event: ArvoEvent,
    ) -> str:
        parent = data[PARENT_SUBJECT_FIELD]
        redirect = item_routing(item, "redirectto", event) or self.source
        try:
            ArvoOrchestrationSubject.parse(parent)
        except ArvoSubjectError as exc:
            raise ExecutionViolation(
                f"Invalid {PARENT_SUBJECT_FIELD} for the child workflow event "
                f"(type={contract.accepts.type!r}): {exc}",
                {"initiatingEvent": event},
            ) from None
        try:
            return ArvoOrchestrationSubject.from_(
                orchestrator=contract.accepts.type,
                version=contract.version,
                subject=parent,
                domain=domain,
                meta={"redirectto": redirect},
            )
        except ArvoSubjectError as exc:
            raise ExecutionViolation(
                f"Cannot build the child workflow subject for {contract.accepts.type!r}: {exc}",
                {"initiatingEvent": event},
            ) from None

    def _event(
        self,
        item: Item,
        event: ArvoEvent,
        *,
        event_type: str,
        data: dict[str, Any],
        dataschema: str | None,
        subject: str,
        domain: str | None,
        parentid: str,
    ) -> ArvoEvent:
        return output_event(
            item,
            event,
            source=self.source,
            event_type=event_type,
            subject=subject,
            data=data,
            dataschema=dataschema,
            to=item_routing(item, "to", event) or encode_uri(event_type),
            redirectto=item_routing(item, "redirectto", event) or self.source,
            parentid=parentid,
            domain=domain,
            execution_units=self.execution_units,
        )

    def _resolve(
        self,
        item: Item,
        event_contract: VersionedArvoContract | None,
        default: Domains,
        event: ArvoEvent,
        parent_subject: str | None,
    ) -> list[str | None]:
        return resolved_domains(
            item_domains(item, default, event),
            self_contract=self.self_contract,
            event_contract=event_contract,
            event=event,
            parent_subject=parent_subject,
        )


def _with_parent_subject(data: object, event_type: str, event: ArvoEvent) -> dict[str, Any]:
    """Child workflow data with ``parentSubject$$`` defaulting to the calling workflow."""
    plain = plain_item_data(data, event_type, event)
    # Without a parent subject the child's completion would come back under the child's
    # own subject, which the calling workflow cannot match to its state: link it by default.
    if not plain.get(PARENT_SUBJECT_FIELD):
        plain[PARENT_SUBJECT_FIELD] = event.subject
    return plain
