"""The items handler functions return, and how each of their fields is read and checked.

Handler functions return *items*: dicts ``{"type", "data", ...}`` with optional routing
fields. The helpers here normalise a return value to a list of items and read one
field of an item each, raising a :class:`ContractViolation` about the triggering event
when the field is malformed. Only the routing fields an item supplies (``to``,
``redirectto``) pass through ``encode_uri``, as arvo-core does, so an already-escaped
subject copied from the triggering event is never escaped twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from arvo_concurrent.arvo.contract import SchemaValidationError, parse_data
from arvo_concurrent.arvo.emission_domains import Domains
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.uri import UriError, encode_uri
from arvo_concurrent.arvo.violations import ContractViolation, violation_for

__all__ = [
    "HANDLER_ITEM_KEYS",
    "ORCHESTRATION_ITEM_KEYS",
    "Item",
    "as_items",
    "item_domains",
    "item_routing",
    "item_type",
    "output_violation",
    "parsed_item_data",
    "plain_item_data",
]

Item = Mapping[str, Any]

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
                raise output_violation(
                    f"{what} returned a list holding {entry!r}; expected dicts", event
                )
        return list(result)
    raise output_violation(
        f"{what} must return a dict, a list of dicts or None, got {result!r}", event
    )


def output_violation(message: str, event: ArvoEvent) -> ContractViolation:
    """The ContractViolation about ``event`` for a malformed output."""
    return violation_for(ContractViolation, message, event)


def item_type(item: Item, allowed: frozenset[str], event: ArvoEvent) -> str:
    """The item's ``type``, after checking it has only ``allowed`` keys.

    Raises:
        ContractViolation: an unknown key, or no ``type`` string.
    """
    if not allowed.issuperset(item):
        unknown = item.keys() - allowed
        raise output_violation(
            f"Output item has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}", event
        )
    event_type = item.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise output_violation(f"Output item needs a 'type' string, got {event_type!r}", event)
    return event_type


def parsed_item_data(
    schema: Any, data: object, event_type: str, event: ArvoEvent
) -> dict[str, Any]:
    """The item's ``data`` parsed against ``schema`` (the emit or accept schema).

    Raises:
        ContractViolation: ``data`` is not a dict or Struct, or fails the schema.
    """
    if not isinstance(data, Mapping | msgspec.Struct):
        raise output_violation(
            f"Output {event_type!r}: 'data' must be a dict or a Struct, got {data!r}", event
        )
    try:
        return parse_data(schema, data)
    except SchemaValidationError as exc:
        raise output_violation(
            f"Output {event_type!r} data fails its schema: {exc}", event
        ) from None


def plain_item_data(data: object, event_type: str, event: ArvoEvent) -> dict[str, Any]:
    """The item's ``data`` as a plain dict, for an event type no contract describes.

    Raises:
        ContractViolation: ``data`` is neither a dict nor a Struct.
    """
    if isinstance(data, msgspec.Struct):
        built: dict[str, Any] = msgspec.to_builtins(data)
        return built
    if not isinstance(data, Mapping):
        raise output_violation(
            f"Output {event_type!r}: 'data' must be a dict or a Struct, got {data!r}", event
        )
    return dict(data)


def item_routing(item: Item, key: str, event: ArvoEvent) -> str | None:
    """The item's routing field ``key`` (``to`` or ``redirectto``) URI-encoded, or None.

    Raises:
        ContractViolation: the value is not a string or not a valid URI.
    """
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise output_violation(f"Output item {key!r} must be a string, got {value!r}", event)
    try:
        return encode_uri(value)
    except UriError as exc:
        raise output_violation(f"Output item {key!r}: {exc}", event) from None


def item_domains(item: Item, default: Domains, event: ArvoEvent) -> Iterable[str | None]:
    """The item's ``domain`` list, else ``default``.

    Raises:
        ContractViolation: ``domain`` is not a list.
    """
    domains = item.get("domain")
    if domains is None:
        return default
    if not isinstance(domains, list | tuple):
        raise output_violation(
            f"Output item 'domain' must be a list of domains, got {domains!r}", event
        )
    return domains
