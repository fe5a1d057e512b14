"""Event domains: symbolic domain values and how they resolve.

The model: docs/arvo-model.md §3.4.

An event whose ``domain`` is set leaves the in-process broker (it goes to
``on_domained_events``). Handlers say which domain an emitted event gets with a literal domain
or one of the symbolic :class:`ArvoDomain` values, resolved by :func:`resolve_domain`. Pure and
thread-safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from arvo_concurrent.arvo.subject import ArvoOrchestrationSubject, ArvoSubjectError

if TYPE_CHECKING:
    from arvo_concurrent.arvo.contract import ArvoContract, VersionedArvoContract
    from arvo_concurrent.arvo.event import ArvoEvent

__all__ = ["ArvoDomain", "resolve_domain"]


class ArvoDomain:
    """Symbolic domain values (the strings are arvo-event-handler's)."""

    FROM_SELF_CONTRACT: Final = "domain.contract.self.inherit"
    """The handler's own contract domain."""
    FROM_EVENT_CONTRACT: Final = "domain.contract.inherit"
    """The domain of the emitted event's contract (for a service call, the service's)."""
    FROM_TRIGGERING_EVENT: Final = "domain.event.inherit"
    """The ``domain`` of the event being handled."""
    FROM_CURRENT_SUBJECT: Final = "domain.event.current.subject"
    """``execution.domain`` of the current subject (None if it does not parse)."""
    FROM_PARENT_SUBJECT: Final = "domain.parent.subject"
    """``execution.domain`` of the parent subject (None if absent or unparsable)."""
    LOCAL: Final = None
    """No domain: the event stays in-process."""
    ORCHESTRATION_CONTEXT: Final = "domain.orchestration.context"
    """Cross a domain boundary only when the orchestration context changes domain."""


def resolve_domain(
    domain: str | None,
    *,
    self_contract: ArvoContract | VersionedArvoContract | None = None,
    event_contract: ArvoContract | VersionedArvoContract | None = None,
    triggering_event: ArvoEvent | None = None,
    current_subject: str | None = None,
    parent_subject: str | None = None,
) -> str | None:
    """Resolve a literal or symbolic domain to a concrete domain, or None.

    ``ORCHESTRATION_CONTEXT`` gives: without a parent subject, None when the triggering event
    has no domain or the current subject's domain equals it, else the current subject's domain;
    with a parent subject, None when the current and parent subject domains are equal, else the
    parent's domain. Any other non-empty string is used as it is; "" and None give None.
    """
    if not domain:
        return None
    if domain == ArvoDomain.FROM_SELF_CONTRACT:
        return self_contract.domain if self_contract is not None else None
    if domain == ArvoDomain.FROM_EVENT_CONTRACT:
        return event_contract.domain if event_contract is not None else None
    if domain == ArvoDomain.FROM_TRIGGERING_EVENT:
        return triggering_event.domain if triggering_event is not None else None
    return _resolve_from_subjects(domain, triggering_event, current_subject, parent_subject)


def _resolve_from_subjects(
    domain: str,
    triggering_event: ArvoEvent | None,
    current_subject: str | None,
    parent_subject: str | None,
) -> str | None:
    if domain == ArvoDomain.FROM_CURRENT_SUBJECT:
        return _subject_domain(current_subject)
    if domain == ArvoDomain.FROM_PARENT_SUBJECT:
        return _subject_domain(parent_subject)
    if domain == ArvoDomain.ORCHESTRATION_CONTEXT:
        return _orchestration_context(triggering_event, current_subject, parent_subject)
    return domain


def _orchestration_context(
    triggering_event: ArvoEvent | None, current_subject: str | None, parent_subject: str | None
) -> str | None:
    if parent_subject is None:
        # The common case (a root workflow, an event without domain) needs no subject decoding.
        triggering = triggering_event.domain if triggering_event is not None else None
        if triggering is None:
            return None
        current = _subject_domain(current_subject)
        return None if current == triggering else current
    current = _subject_domain(current_subject)
    parent = _subject_domain(parent_subject)
    return None if current == parent else parent


def _subject_domain(subject: str | None) -> str | None:
    if not subject:
        return None
    try:
        return ArvoOrchestrationSubject.parse(subject).execution.domain
    except ArvoSubjectError:
        return None
