"""Building output events from what handler functions return (ARVO_MODEL 3.2, 4.5, 5.5).

Handler functions return *items*: dicts ``{"type", "data", ...}`` with optional routing
fields. The emitters here turn items into :class:`ArvoEvent` objects with the routing
the Arvo model prescribes, one event per distinct resolved domain:

* :class:`HandlerEmitter`: a plain handler's replies (the 3.2 table: back to the
  request's ``redirectto``, else its ``source``; same subject; ``parentid`` = request id).
* :class:`OrchestrationEmitter`: a resumable's or orchestrator's service calls and
  completion (the 5.5 table), including child-workflow subjects.
* :class:`SystemErrorEmitter`: ``sys.<type>.error`` events for unexpected failures.

Emitters are built once per handler (and contract version) and are immutable, so any
number of threads may use one at the same time. Fields copied from the triggering
event (subject, source, ids) are used as they are; only the routing fields an item
supplies (``to``, ``redirectto``) pass through ``encode_uri``, as arvo-core does, so an
already-escaped subject is never escaped twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from arvo_concurrent.arvo.contract import (
    PARENT_SUBJECT_FIELD,
    WILDCARD_VERSION,
    ArvoContract,
    SchemaValidationError,
    VersionedArvoContract,
    is_orchestrator_contract,
    parse_data,
)
from arvo_concurrent.arvo.domain import resolve_domain
from arvo_concurrent.arvo.event import ArvoEvent, ArvoEventValidationError, create_timestamp
from arvo_concurrent.arvo.handler import HandlerConfigError, error_payload
from arvo_concurrent.arvo.ids import ArvoEventIdError, create_arvo_event_id, random_uuid
from arvo_concurrent.arvo.subject import (
    ArvoOrchestrationSubject,
    ArvoSubjectError,
    SubjectContent,
)
from arvo_concurrent.arvo.uri import UriError, encode_uri
from arvo_concurrent.arvo.violations import ContractViolation, ExecutionViolation, violation_for

__all__ = [
    "HANDLER_ITEM_KEYS",
    "ORCHESTRATION_ITEM_KEYS",
    "HandlerEmitter",
    "OrchestrationEmitter",
    "SystemErrorEmitter",
    "as_items",
    "emission_domains",
]

Item = Mapping[str, Any]
Domains = tuple[str | None, ...]

HANDLER_ITEM_KEYS = frozenset(
    {
        "type",
        "data",
        "id",
        "time",
        "to",
        "redirectto",
        "accesscontrol",
        "executionunits",
        "domain",
        "__extensions",
    }
)
"""The keys an ArvoEventHandler output item may have."""

ORCHESTRATION_ITEM_KEYS = HANDLER_ITEM_KEYS | {"dataschema"}
"""The keys a resumable/machine service item may have (``dataschema`` for untyped emits)."""


def as_items(result: object, *, what: str, event: ArvoEvent) -> list[Item]:
    """Normalise a handler's return value (None, one item, or a list) to a list of items.

    Raises:
        ContractViolation: the value (or one list entry) is not a dict.
    """
    if result is None:
        return []
    if isinstance(result, Mapping):
        return [result]
    if isinstance(result, list | tuple):
        for entry in result:
            if not isinstance(entry, Mapping):
                raise _violation(f"{what} returned a list holding {entry!r}; expected dicts", event)
        return list(result)
    raise _violation(f"{what} must return a dict, a list of dicts or None, got {result!r}", event)


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerEmitter:
    """Builds an ArvoEventHandler's output events for one contract version (ARVO_MODEL 3.2).

    Attributes:
        source: the handler source (the contract type).
        contract: the contract version the input was validated against.
        execution_units: the handler's default ``executionunits``.
        domains: the default domains of emitted events.
    """

    source: str
    contract: VersionedArvoContract
    execution_units: float | None
    domains: Domains

    def events(self, items: Sequence[Item], event: ArvoEvent) -> list[ArvoEvent]:
        """One event per item and distinct resolved domain.

        Raises:
            ContractViolation: an item has an unknown key or type, data that fails its
                emit schema, or a field that breaks an event rule.
        """
        contract = self.contract
        out: list[ArvoEvent] = []
        for item in items:
            event_type = _item_type(item, HANDLER_ITEM_KEYS, event)
            schema = contract.emits.get(event_type)
            if schema is None:
                raise _violation(
                    f"No contract available for {event_type!r}; {contract.uri} "
                    f"version {contract.version} emits {sorted(contract.emits)}",
                    event,
                )
            data = _parsed(schema, item.get("data"), event_type, event)
            domains = _resolved(
                _item_domains(item, self.domains, event),
                self_contract=contract,
                event_contract=contract,
                event=event,
                parent_subject=None,
            )
            out.extend(
                _output_event(
                    item,
                    event,
                    source=self.source,
                    event_type=event_type,
                    subject=event.subject,
                    data=data,
                    dataschema=contract.dataschema,
                    to=_routing(item, "to", event) or event.redirectto or event.source,
                    redirectto=_routing(item, "redirectto", event),
                    parentid=event.id,
                    domain=domain,
                    execution_units=self.execution_units,
                )
                for domain in domains
            )
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationEmitter:
    """Builds a resumable's or orchestrator's service calls and completion (ARVO_MODEL 5.5).

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
            raise _violation(f"The workflow output must be a dict or a Struct: {output!r}", event)
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
            event_type = _item_type(item, ORCHESTRATION_ITEM_KEYS, event)
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
        data = _parsed(own.emits[complete_type], item.get("data"), complete_type, event)
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
            data = _plain_data(item.get("data"), event_type, event)
            dataschema = item.get("dataschema")
        else:
            raw = item.get("data")
            is_child = is_orchestrator_contract(contract)
            if is_child:
                raw = _with_parent_subject(raw, event_type, event)
            data = _parsed(contract.accepts.schema, raw, event_type, event)
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
        redirect = _routing(item, "redirectto", event) or self.source
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
        return _output_event(
            item,
            event,
            source=self.source,
            event_type=event_type,
            subject=subject,
            data=data,
            dataschema=dataschema,
            to=_routing(item, "to", event) or encode_uri(event_type),
            redirectto=_routing(item, "redirectto", event) or self.source,
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
        return _resolved(
            _item_domains(item, default, event),
            self_contract=self.self_contract,
            event_contract=event_contract,
            event=event,
            parent_subject=parent_subject,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemErrorEmitter:
    """Builds ``sys.<type>.error`` events for an unexpected failure.

    Attributes:
        source: the handler source.
        contract: the handler's (or orchestrator's) contract; gives the error type,
            the wildcard dataschema ``uri/0.0.0`` and the self domain.
        execution_units: ``executionunits`` of the error events.
        domains: the default domains of error events.
    """

    source: str
    contract: ArvoContract
    execution_units: float | None
    domains: Domains

    def events(
        self,
        error: BaseException,
        *,
        event: ArvoEvent,
        subject: str,
        to: str,
        parentid: str,
        parent_subject: str | None,
    ) -> list[ArvoEvent]:
        """The error events for ``error``, raised while handling ``event``."""
        data = error_payload(error)
        domains = _resolved(
            self.domains,
            self_contract=self.contract,
            event_contract=self.contract,
            event=event,
            parent_subject=parent_subject,
        )
        return [
            ArvoEvent(
                id=random_uuid(),
                source=self.source,
                type=self.contract.system_error.type,
                subject=subject,
                dataschema=f"{self.contract.uri}/{WILDCARD_VERSION}",
                data=data,
                time=create_timestamp(),
                to=to,
                accesscontrol=event.accesscontrol,
                executionunits=self.execution_units,
                traceparent=event.traceparent,
                tracestate=event.tracestate,
                parentid=parentid,
                domain=domain,
            )
            for domain in domains
        ]


def _violation(message: str, event: ArvoEvent) -> ContractViolation:
    return violation_for(ContractViolation, message, event)


def _item_type(item: Item, allowed: frozenset[str], event: ArvoEvent) -> str:
    if not allowed.issuperset(item):
        unknown = item.keys() - allowed
        raise _violation(
            f"Output item has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}", event
        )
    event_type = item.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise _violation(f"Output item needs a 'type' string, got {event_type!r}", event)
    return event_type


def _parsed(schema: Any, data: object, event_type: str, event: ArvoEvent) -> dict[str, Any]:
    if not isinstance(data, Mapping | msgspec.Struct):
        raise _violation(
            f"Output {event_type!r}: 'data' must be a dict or a Struct, got {data!r}", event
        )
    try:
        return parse_data(schema, data)
    except SchemaValidationError as exc:
        raise _violation(f"Output {event_type!r} data fails its schema: {exc}", event) from None


def _plain_data(data: object, event_type: str, event: ArvoEvent) -> dict[str, Any]:
    if isinstance(data, msgspec.Struct):
        built: dict[str, Any] = msgspec.to_builtins(data)
        return built
    if not isinstance(data, Mapping):
        raise _violation(
            f"Output {event_type!r}: 'data' must be a dict or a Struct, got {data!r}", event
        )
    return dict(data)


def _with_parent_subject(data: object, event_type: str, event: ArvoEvent) -> dict[str, Any]:
    """Child workflow data with ``parentSubject$$`` defaulting to the calling workflow."""
    plain = _plain_data(data, event_type, event)
    # Without a parent subject the child's completion would come back under the child's
    # own subject, which the calling workflow cannot match to its state: link it by default.
    if not plain.get(PARENT_SUBJECT_FIELD):
        plain[PARENT_SUBJECT_FIELD] = event.subject
    return plain


def _routing(item: Item, key: str, event: ArvoEvent) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _violation(f"Output item {key!r} must be a string, got {value!r}", event)
    try:
        return encode_uri(value)
    except UriError as exc:
        raise _violation(f"Output item {key!r}: {exc}", event) from None


def _item_domains(item: Item, default: Domains, event: ArvoEvent) -> Iterable[str | None]:
    domains = item.get("domain")
    if domains is None:
        return default
    if not isinstance(domains, list | tuple):
        raise _violation(f"Output item 'domain' must be a list of domains, got {domains!r}", event)
    return domains


def _resolved(
    domains: Iterable[str | None],
    *,
    self_contract: ArvoContract | VersionedArvoContract,
    event_contract: ArvoContract | VersionedArvoContract | None,
    event: ArvoEvent,
    parent_subject: str | None,
) -> list[str | None]:
    """The distinct concrete domains ``domains`` resolve to, in order (ARVO_MODEL 3.4)."""
    resolved = [
        resolve_domain(
            domain,
            self_contract=self_contract,
            event_contract=event_contract,
            triggering_event=event,
            current_subject=event.subject,
            parent_subject=parent_subject,
        )
        for domain in domains
    ]
    return resolved if len(resolved) < 2 else list(dict.fromkeys(resolved))


def _output_event(
    item: Item,
    base: ArvoEvent,
    *,
    source: str,
    event_type: str,
    subject: str,
    data: dict[str, Any],
    dataschema: str | None,
    to: str,
    redirectto: str | None,
    parentid: str,
    domain: str | None,
    execution_units: float | None,
) -> ArvoEvent:
    """The event for ``item``, emitted while handling ``base``.

    The item's ``id``, ``time``, ``accesscontrol``, ``executionunits`` and ``__extensions``
    are used when given; ``accesscontrol`` and the trace fields default to ``base``'s.

    Raises:
        ContractViolation: a field breaks an event rule.
    """
    try:
        raw_id = item.get("id")
        accesscontrol = item.get("accesscontrol")
        units = item.get("executionunits")
        extensions = item.get("__extensions")
        return ArvoEvent(
            id=raw_id if isinstance(raw_id, str) else create_arvo_event_id(raw_id),
            source=source,
            type=event_type,
            subject=subject,
            dataschema=dataschema,
            data=data,
            time=item.get("time") or create_timestamp(),
            to=to,
            accesscontrol=base.accesscontrol if accesscontrol is None else accesscontrol,
            redirectto=redirectto,
            executionunits=execution_units if units is None else units,
            traceparent=base.traceparent,
            tracestate=base.tracestate,
            parentid=parentid,
            domain=domain,
            extensions=dict(extensions) if extensions else {},
        )
    except (ArvoEventValidationError, ArvoEventIdError, TypeError, ValueError) as exc:
        raise _violation(f"Cannot build the output event {event_type!r}: {exc}", base) from None


def emission_domains(
    given: Mapping[str, Sequence[str | None]] | None, defaults: Mapping[str, Domains]
) -> dict[str, Domains]:
    """Merge a handler's ``default_event_emission_domains`` over ``defaults``.

    Raises:
        HandlerConfigError: an unknown key, or a value that is not a list of domains.
    """
    merged = dict(defaults)
    for key, domains in (given or {}).items():
        if key not in defaults:
            raise HandlerConfigError(
                "default_event_emission_domains",
                key,
                f"default_event_emission_domains has unknown key {key!r}; "
                f"known: {sorted(defaults)}",
            )
        if not isinstance(domains, list | tuple) or not all(
            d is None or isinstance(d, str) for d in domains
        ):
            raise HandlerConfigError(
                "default_event_emission_domains",
                domains,
                f"default_event_emission_domains[{key!r}] must be a list of domains (str or None)",
            )
        merged[key] = tuple(domains)
    return merged
