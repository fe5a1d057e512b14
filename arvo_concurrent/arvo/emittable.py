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
from typing import Any

import msgspec

from arvo_concurrent.arvo.contract import (
    PARENT_SUBJECT_FIELD,
    ArvoContract,
    SchemaValidationError,
    VersionedArvoContract,
    parse_data,
)
from arvo_concurrent.arvo.domain import ArvoDomain, resolve_domain
from arvo_concurrent.arvo.event import ArvoEvent, ArvoEventValidationError, create_timestamp
from arvo_concurrent.arvo.handler import HandlerConfigError, error_payload
from arvo_concurrent.arvo.ids import ArvoEventIdError, create_arvo_event_id
from arvo_concurrent.arvo.subject import ArvoOrchestrationSubject, ArvoSubjectError
from arvo_concurrent.arvo.uri import UriError, encode_uri
from arvo_concurrent.arvo.violations import ContractViolation, ExecutionViolation

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

_ORCHESTRATOR_CONTRACT = "ArvoOrchestratorContract"


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


class HandlerEmitter:
    """Builds an ArvoEventHandler's output events for one contract version (ARVO_MODEL 3.2).

    Args:
        source: the handler source (the contract type).
        contract: the contract version the input was validated against.
        execution_units: the handler's default ``executionunits``.
        domains: the default domains of emitted events.
    """

    def __init__(
        self,
        *,
        source: str,
        contract: VersionedArvoContract,
        execution_units: float | None,
        domains: Domains,
    ) -> None:
        self._source = source
        self._contract = contract
        self._units = execution_units
        self._domains = domains

    def events(self, items: Sequence[Item], event: ArvoEvent) -> list[ArvoEvent]:
        """One event per item and distinct resolved domain.

        Raises:
            ContractViolation: an item has an unknown key or type, data that fails its
                emit schema, or a field that breaks an event rule.
        """
        out: list[ArvoEvent] = []
        for item in items:
            event_type = _item_type(item, HANDLER_ITEM_KEYS, event)
            schema = self._contract.emits.get(event_type)
            if schema is None:
                raise _violation(
                    f"No contract available for {event_type!r}; {self._contract.uri} "
                    f"version {self._contract.version} emits {sorted(self._contract.emits)}",
                    event,
                )
            data = _parsed(schema, item.get("data"), event_type, event)
            for domain in self._resolve(item, event):
                out.append(self._event(item, event_type, data, domain, event))
        return out

    def _event(
        self,
        item: Item,
        event_type: str,
        data: dict[str, Any],
        domain: str | None,
        event: ArvoEvent,
    ) -> ArvoEvent:
        return _new_event(
            event,
            item,
            type=event_type,
            source=self._source,
            subject=event.subject,
            data=data,
            dataschema=self._contract.dataschema,
            to=_routing(item, "to", event) or event.redirectto or event.source,
            redirectto=_routing(item, "redirectto", event),
            accesscontrol=_first(item.get("accesscontrol"), event.accesscontrol),
            executionunits=_first(item.get("executionunits"), self._units),
            parentid=event.id,
            domain=domain,
        )

    def _resolve(self, item: Item, event: ArvoEvent) -> list[str | None]:
        return _distinct(
            _resolve_one(
                domain,
                self_contract=self._contract,
                event_contract=self._contract,
                event=event,
                parent_subject=None,
            )
            for domain in _item_domains(item, self._domains, event)
        )


class OrchestrationEmitter:
    """Builds a resumable's or orchestrator's service calls and completion (ARVO_MODEL 5.5).

    Args:
        source: the orchestrator source (``arvo.orc.<name>``).
        self_contract: the orchestrator contract version in use.
        services: the service contracts by the type they accept.
        execution_units: the default ``executionunits`` of emitted events.
        service_domains: default domains of service calls.
        complete_domains: default domains of the completion event.
    """

    def __init__(
        self,
        *,
        source: str,
        self_contract: VersionedArvoContract,
        services: Mapping[str, VersionedArvoContract],
        execution_units: float | None,
        service_domains: Domains,
        complete_domains: Domains,
    ) -> None:
        self._source = source
        self._self = self_contract
        self._services = services
        self._units = execution_units
        self._service_domains = service_domains
        self._complete_domains = complete_domains
        self.complete_type: str = self_contract.metadata["completeEventType"]

    def completion(self, output: object, subject: Any, event: ArvoEvent) -> dict[str, Any]:
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
            "domain": output.get("__domain") or self._complete_domains,
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
        out: list[ArvoEvent] = []
        for item in items:
            event_type = _item_type(item, ORCHESTRATION_ITEM_KEYS, event)
            if event_type == self.complete_type:
                out.extend(self._completion_events(item, event, parent_subject, init_event_id))
            else:
                out.extend(self._service_events(item, event_type, event, parent_subject))
        return out

    def _completion_events(
        self, item: Item, event: ArvoEvent, parent_subject: str | None, init_event_id: str
    ) -> list[ArvoEvent]:
        data = _parsed(
            self._self.emits[self.complete_type], item.get("data"), self.complete_type, event
        )
        subject = parent_subject or event.subject
        return [
            self._event(
                item,
                event,
                event_type=self.complete_type,
                data=data,
                dataschema=self._self.dataschema,
                subject=subject,
                domain=domain,
                parentid=init_event_id,
            )
            for domain in self._resolve(
                item, self._self, self._complete_domains, event, parent_subject
            )
        ]

    def _service_events(
        self, item: Item, event_type: str, event: ArvoEvent, parent_subject: str | None
    ) -> list[ArvoEvent]:
        contract = self._services.get(event_type)
        domains = self._resolve(item, contract, self._service_domains, event, parent_subject)
        if contract is None:
            data = _plain_data(item.get("data"), event_type, event)
            return [
                self._event(
                    item,
                    event,
                    event_type=event_type,
                    data=data,
                    dataschema=item.get("dataschema"),
                    subject=event.subject,
                    domain=domain,
                    parentid=event.id,
                )
                for domain in domains
            ]
        raw = item.get("data")
        is_child = contract.metadata.get("contractType") == _ORCHESTRATOR_CONTRACT
        if is_child:
            raw = _with_parent_subject(raw, event_type, event)
        data = _parsed(contract.accepts.schema, raw, event_type, event)
        out = []
        for domain in domains:
            subject = (
                self._child_subject(item, contract, data, domain, event)
                if is_child
                else event.subject
            )
            out.append(
                self._event(
                    item,
                    event,
                    event_type=event_type,
                    data=data,
                    dataschema=contract.dataschema,
                    subject=subject,
                    domain=domain,
                    parentid=event.id,
                )
            )
        return out

    def _child_subject(
        self,
        item: Item,
        contract: VersionedArvoContract,
        data: Mapping[str, Any],
        domain: str | None,
        event: ArvoEvent,
    ) -> str:
        parent = data[PARENT_SUBJECT_FIELD]
        redirect = _routing(item, "redirectto", event) or self._source
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
        return _new_event(
            event,
            item,
            type=event_type,
            source=self._source,
            subject=subject,
            data=data,
            dataschema=dataschema,
            to=_routing(item, "to", event) or encode_uri(event_type),
            redirectto=_routing(item, "redirectto", event) or self._source,
            accesscontrol=_first(item.get("accesscontrol"), event.accesscontrol),
            executionunits=_first(item.get("executionunits"), self._units),
            parentid=parentid,
            domain=domain,
        )

    def _resolve(
        self,
        item: Item,
        event_contract: VersionedArvoContract | None,
        default: Domains,
        event: ArvoEvent,
        parent_subject: str | None,
    ) -> list[str | None]:
        return _distinct(
            _resolve_one(
                domain,
                self_contract=self._self,
                event_contract=event_contract,
                event=event,
                parent_subject=parent_subject,
            )
            for domain in _item_domains(item, default, event)
        )


class SystemErrorEmitter:
    """Builds ``sys.<type>.error`` events for an unexpected failure.

    Args:
        source: the handler source.
        contract: the handler's (or orchestrator's) contract; gives the error type,
            the wildcard dataschema ``uri/0.0.0`` and the self domain.
        execution_units: ``executionunits`` of the error events.
        domains: the default domains of error events.
    """

    def __init__(
        self,
        *,
        source: str,
        contract: ArvoContract,
        execution_units: float | None,
        domains: Domains,
    ) -> None:
        self._source = source
        self._contract = contract
        self._units = execution_units
        self._domains = domains
        self.type = contract.system_error.type
        self._dataschema = f"{contract.uri}/0.0.0"

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
        return [
            ArvoEvent(
                id=create_arvo_event_id(),
                source=self._source,
                type=self.type,
                subject=subject,
                dataschema=self._dataschema,
                data=data,
                time=create_timestamp(),
                to=to,
                accesscontrol=event.accesscontrol,
                executionunits=self._units,
                traceparent=event.traceparent,
                tracestate=event.tracestate,
                parentid=parentid,
                domain=domain,
            )
            for domain in _distinct(
                _resolve_one(
                    domain,
                    self_contract=self._contract,
                    event_contract=self._contract,
                    event=event,
                    parent_subject=parent_subject,
                )
                for domain in self._domains
            )
        ]


def _violation(message: str, event: ArvoEvent) -> ContractViolation:
    return ContractViolation(f"{message} (event id={event.id!r})", {"initiatingEvent": event})


def _item_type(item: Item, allowed: frozenset[str], event: ArvoEvent) -> str:
    unknown = item.keys() - allowed
    if unknown:
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


def _first(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _item_domains(item: Item, default: Domains, event: ArvoEvent) -> Iterable[str | None]:
    domains = item.get("domain")
    if domains is None:
        return default
    if not isinstance(domains, list | tuple):
        raise _violation(f"Output item 'domain' must be a list of domains, got {domains!r}", event)
    return domains


def _resolve_one(
    domain: str | None,
    *,
    self_contract: ArvoContract | VersionedArvoContract,
    event_contract: ArvoContract | VersionedArvoContract | None,
    event: ArvoEvent,
    parent_subject: str | None,
) -> str | None:
    # The common case on the hot path: a root context and an event without a domain stay
    # local, so skip the subject decoding resolve_domain would do to find that out.
    if domain is None or (
        domain == ArvoDomain.ORCHESTRATION_CONTEXT
        and parent_subject is None
        and event.domain is None
    ):
        return None
    return resolve_domain(
        domain,
        self_contract=self_contract,
        event_contract=event_contract,
        triggering_event=event,
        current_subject=event.subject,
        parent_subject=parent_subject,
    )


def _distinct(domains: Iterable[str | None]) -> list[str | None]:
    return list(dict.fromkeys(domains))


def _new_event(base: ArvoEvent, item: Item, **fields: Any) -> ArvoEvent:
    """An event from ``fields`` plus the item's ``id``/``time``/``__extensions``."""
    try:
        raw_id = item.get("id")
        event_id = raw_id if isinstance(raw_id, str) else create_arvo_event_id(raw_id)
        return ArvoEvent(
            id=event_id,
            time=item.get("time") or create_timestamp(),
            traceparent=base.traceparent,
            tracestate=base.tracestate,
            extensions=dict(item.get("__extensions") or {}),
            **fields,
        )
    except (ArvoEventValidationError, ArvoEventIdError, TypeError, ValueError) as exc:
        raise _violation(
            f"Cannot build the output event {fields.get('type')!r}: {exc}", base
        ) from None


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
