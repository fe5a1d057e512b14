"""A plain handler's replies: items in, output events out (docs/arvo-model.md §3.2).

Replies go back to the request's ``redirectto``, else its ``source``, under the same
subject with ``parentid`` = the request id; one event per item and distinct resolved
domain. An emitter is built once per contract version and is immutable, so any number
of threads may use one at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from arvo_concurrent.arvo.contract import VersionedArvoContract
from arvo_concurrent.arvo.emission_domains import Domains, resolved_domains
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.output_event import output_event
from arvo_concurrent.arvo.output_items import (
    HANDLER_ITEM_KEYS,
    Item,
    item_domains,
    item_routing,
    item_type,
    output_violation,
    parsed_item_data,
)

__all__ = ["HandlerEmitter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerEmitter:
    """Builds an ArvoEventHandler's output events for one contract version.

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
            event_type = item_type(item, HANDLER_ITEM_KEYS, event)
            schema = contract.emits.get(event_type)
            if schema is None:
                raise output_violation(
                    f"No contract available for {event_type!r}; {contract.uri} "
                    f"version {contract.version} emits {sorted(contract.emits)}",
                    event,
                )
            data = parsed_item_data(schema, item.get("data"), event_type, event)
            domains = resolved_domains(
                item_domains(item, self.domains, event),
                self_contract=contract,
                event_contract=contract,
                event=event,
                parent_subject=None,
            )
            out.extend(
                output_event(
                    item,
                    event,
                    source=self.source,
                    event_type=event_type,
                    subject=event.subject,
                    data=data,
                    dataschema=contract.dataschema,
                    to=item_routing(item, "to", event) or event.redirectto or event.source,
                    redirectto=item_routing(item, "redirectto", event),
                    parentid=event.id,
                    domain=domain,
                    execution_units=self.execution_units,
                )
                for domain in domains
            )
        return out
