"""Event factories: build contract-valid events for one contract version.

The model: docs/arvo-model.md §1.7.

A factory validates ``data`` against the contract's schema (unknown keys stripped, defaults
applied), fills ``type``, ``dataschema`` and ``datacontenttype``, and, when no ``subject`` is
given, creates a new orchestration subject with the event's source as initiator. Factories are
immutable and thread-safe; nothing here blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

import msgspec

from arvo_concurrent.arvo.contract import (
    PARENT_SUBJECT_FIELD,
    ArvoContractError,
    VersionedArvoContract,
    is_orchestrator_contract,
    parse_data,
)
from arvo_concurrent.arvo.event import TYPE_PATTERN, ArvoEvent, ExtensionValue, create_arvo_event
from arvo_concurrent.arvo.handler import error_payload
from arvo_concurrent.arvo.subject import ArvoOrchestrationSubject, ArvoSubjectError

__all__ = [
    "ArvoEventFactory",
    "ArvoOrchestratorEventFactory",
    "EventOptions",
    "create_arvo_event_factory",
    "create_arvo_orchestrator_event_factory",
]

EventData = Mapping[str, Any] | msgspec.Struct


class EventOptions(TypedDict, total=False):
    """The optional event fields every factory method takes (see ``create_arvo_event``)."""

    to: str | None
    redirectto: str | None
    domain: str | None
    id: str | dict[str, str] | None
    accesscontrol: str | None
    executionunits: float | None
    parentid: str | None
    time: str | None
    traceparent: str | None
    tracestate: str | None
    extensions: dict[str, ExtensionValue] | None


class ArvoEventFactory:
    """Builds the events of one :class:`VersionedArvoContract`.

    Args:
        contract: the contract version whose events to build.
    """

    def __init__(self, contract: VersionedArvoContract) -> None:
        self.contract = contract

    def accepts(
        self,
        *,
        source: str,
        data: EventData,
        subject: str | None = None,
        **options: Unpack[EventOptions],
    ) -> ArvoEvent:
        """An event of the accepted type, ``data`` validated by the accepts schema.

        Raises:
            SchemaValidationError: ``"Accept Event data validation failed: ..."``.
            ArvoSubjectError: no ``subject`` given and ``source`` is not a reverse-DNS name
                (3+ segments), so no orchestration subject can be made for it.
            ArvoEventValidationError: another field breaks an event rule.
        """
        parsed = self._accepts_data(data)
        return self._event(
            self.contract.accepts.type, source, parsed, self.contract.dataschema, subject, options
        )

    def emits(
        self,
        *,
        type: str,
        source: str,
        data: EventData,
        subject: str | None = None,
        **options: Unpack[EventOptions],
    ) -> ArvoEvent:
        """An event of emitted type ``type``, ``data`` validated by that type's schema.

        Raises:
            ArvoContractError: ``"No contract available for <type>"``.
            SchemaValidationError: ``"Emit Event data validation failed: ..."``.
            ArvoSubjectError, ArvoEventValidationError: as :meth:`accepts`.
        """
        schema = self.contract.emits.get(type)
        if schema is None:
            raise ArvoContractError(f"No contract available for {type}", type)
        parsed = parse_data(schema, data, error_prefix="Emit Event data validation failed: ")
        return self._event(type, source, parsed, self.contract.dataschema, subject, options)

    def system_error(
        self,
        *,
        source: str,
        error: BaseException,
        subject: str | None = None,
        **options: Unpack[EventOptions],
    ) -> ArvoEvent:
        """The contract's system error event for ``error`` (dataschema ``uri/0.0.0``).

        ``data`` is ``{errorName: class name, errorMessage: str(error), errorStack: the
        formatted traceback}``.

        Raises:
            ArvoSubjectError, ArvoEventValidationError: as :meth:`accepts`.
        """
        info = self.contract.system_error
        return self._event(
            info.type, source, error_payload(error), info.dataschema, subject, options
        )

    def _accepts_data(self, data: EventData) -> dict[str, Any]:
        return parse_data(
            self.contract.accepts.schema, data, error_prefix="Accept Event data validation failed: "
        )

    def _event(  # noqa: PLR0917  # private; every caller passes the same six things
        self,
        event_type: str,
        source: str,
        data: dict[str, Any],
        dataschema: str | None,
        subject: str | None,
        options: EventOptions,
    ) -> ArvoEvent:
        if not subject:
            subject = self._new_subject(event_type, source, options)
        return create_arvo_event(
            type=event_type,
            source=source,
            subject=subject,
            data=data,
            dataschema=dataschema,
            **options,
        )

    def _new_subject(self, orchestrator: str, source: str, options: EventOptions) -> str:
        redirectto = options.get("redirectto")
        try:
            return ArvoOrchestrationSubject.new(
                orchestrator=orchestrator,
                version=self.contract.version,
                initiator=source,
                domain=options.get("domain"),
                meta={"redirectto": redirectto} if redirectto else None,
            )
        except ArvoSubjectError:
            if isinstance(source, str) and TYPE_PATTERN.fullmatch(source):
                raise
            # The caller wrote a source, not an initiator: name what they wrote.
            raise ArvoSubjectError(
                f"Invalid source {source!r}: an event made without a subject starts a new "
                "orchestration subject whose initiator is the source, so the source must be a "
                "reverse-DNS name of 3 or more dot-separated segments of lowercase letters and "
                "digits (e.g. 'com.my.service'), or pass subject=",
                source,
            ) from None


class ArvoOrchestratorEventFactory(ArvoEventFactory):
    """An :class:`ArvoEventFactory` for an orchestrator contract, with ``init`` and ``complete``.

    Raises:
        ArvoContractError: on construction, if the contract is not an orchestrator contract.
    """

    def __init__(self, contract: VersionedArvoContract) -> None:
        if not is_orchestrator_contract(contract):
            raise ArvoContractError(
                f"The contract (uri={contract.uri}) is not an orchestrator contract "
                f"(metadata.contractType={contract.metadata.get('contractType')!r})",
                contract,
            )
        super().__init__(contract)

    def init(
        self,
        *,
        source: str,
        data: EventData,
        subject: str | None = None,
        **options: Unpack[EventOptions],
    ) -> ArvoEvent:
        """The orchestrator's init event; ``data`` must carry ``parentSubject$$`` (None for a root).

        Without a ``subject``: for a root (``parentSubject$$`` None) a new subject as in
        :meth:`accepts`; for a child, ``ArvoOrchestrationSubject.from_(parentSubject$$)`` with
        ``meta.redirectto`` = the caller's ``redirectto``, else the parent subject's
        *orchestrator*. That is where an orchestrator's own child calls send the completion
        (arvo-core's ``init()`` uses the parent's *initiator*, which skips the parent;
        docs/arvo-model.md §8.4), so a child started here completes into its parent workflow.

        Raises:
            SchemaValidationError: ``"Accept Event data validation failed: ..."``.
            ArvoSubjectError: ``parentSubject$$`` is not a valid orchestration subject.
            ArvoEventValidationError: another field breaks an event rule.
        """
        parsed = self._accepts_data(data)
        parent = parsed.get(PARENT_SUBJECT_FIELD)
        if not subject and parent:
            subject = self._child_subject(parent, options)
        return self._event(
            self.contract.accepts.type, source, parsed, self.contract.dataschema, subject, options
        )

    def complete(
        self,
        *,
        source: str,
        data: EventData,
        subject: str | None = None,
        **options: Unpack[EventOptions],
    ) -> ArvoEvent:
        """The orchestrator's completion event, ``data`` validated by the complete schema.

        Raises:
            SchemaValidationError: ``"Emit Event data validation failed: ..."``.
            ArvoSubjectError, ArvoEventValidationError: as :meth:`accepts`.
        """
        return self.emits(
            type=self.contract.metadata["completeEventType"],
            source=source,
            data=data,
            subject=subject,
            **options,
        )

    def _child_subject(self, parent: str, options: EventOptions) -> str:
        redirectto = options.get("redirectto")
        if not redirectto:
            redirectto = ArvoOrchestrationSubject.parse(parent).orchestrator.name
        return ArvoOrchestrationSubject.from_(
            orchestrator=self.contract.accepts.type,
            version=self.contract.version,
            subject=parent,
            domain=options.get("domain"),
            meta={"redirectto": redirectto},
        )


def create_arvo_event_factory(contract: VersionedArvoContract) -> ArvoEventFactory:
    """A factory for ``contract``; an :class:`ArvoOrchestratorEventFactory` for orchestrators."""
    if is_orchestrator_contract(contract):
        return ArvoOrchestratorEventFactory(contract)
    return ArvoEventFactory(contract)


def create_arvo_orchestrator_event_factory(
    contract: VersionedArvoContract,
) -> ArvoOrchestratorEventFactory:
    """An orchestrator factory (``init`` / ``complete``) for ``contract``.

    Raises:
        ArvoContractError: ``contract`` is not an orchestrator contract.
    """
    return ArvoOrchestratorEventFactory(contract)
