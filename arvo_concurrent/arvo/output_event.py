"""The output event built from one item, emitted while handling a triggering event."""

from __future__ import annotations

from typing import Any

from arvo_concurrent.arvo.event import ArvoEvent, ArvoEventValidationError, create_timestamp
from arvo_concurrent.arvo.ids import ArvoEventIdError, create_arvo_event_id
from arvo_concurrent.arvo.output_items import Item, output_violation

__all__ = ["output_event"]


def output_event(
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
        raise output_violation(
            f"Cannot build the output event {event_type!r}: {exc}", base
        ) from None
