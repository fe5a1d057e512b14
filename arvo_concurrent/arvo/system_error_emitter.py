"""``sys.<type>.error`` events for a handler's unexpected failure.

An emitter is immutable, so any number of threads may use one at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass

from arvo_concurrent.arvo.contract import WILDCARD_VERSION, ArvoContract
from arvo_concurrent.arvo.emission_domains import Domains, resolved_domains
from arvo_concurrent.arvo.event import ArvoEvent, create_timestamp
from arvo_concurrent.arvo.handler import error_payload
from arvo_concurrent.arvo.ids import random_uuid

__all__ = ["SystemErrorEmitter"]


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
        domains = resolved_domains(
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
