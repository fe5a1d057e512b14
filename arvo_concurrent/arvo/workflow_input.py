"""Checking an event a workflow receives against the workflow's contracts."""

from __future__ import annotations

import msgspec

from arvo_concurrent.arvo.contract import (
    WILDCARD_VERSION,
    SchemaValidationError,
    parse_data,
    parse_dataschema,
)
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.violations import ConfigViolation, ContractViolation, violation_for
from arvo_concurrent.arvo.workflow_contracts import OrchestrationContracts

__all__ = ["validate_input"]


def validate_input(event: ArvoEvent, contracts: OrchestrationContracts) -> ArvoEvent:
    """Check an incoming event against the workflow's contracts (docs/arvo-model.md §5.3).

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
