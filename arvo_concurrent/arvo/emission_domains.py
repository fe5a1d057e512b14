"""Which domains an output event goes to: a handler's defaults and their resolution.

Each handler kind has default emission domains per kind of output (``emits``,
``services``, ``complete``, ``system_error``), which a user may override; an item may
name its own. Symbolic domains (:class:`ArvoDomain`) resolve against the contracts and
the triggering event, and an item yields one event per distinct resolved domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from arvo_concurrent.arvo.contract import ArvoContract, VersionedArvoContract
from arvo_concurrent.arvo.domain import resolve_domain
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import HandlerConfigError

__all__ = ["Domains", "emission_domains", "resolved_domains"]

Domains = tuple[str | None, ...]


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


def resolved_domains(
    domains: Iterable[str | None],
    *,
    self_contract: ArvoContract | VersionedArvoContract,
    event_contract: ArvoContract | VersionedArvoContract | None,
    event: ArvoEvent,
    parent_subject: str | None,
) -> list[str | None]:
    """The distinct concrete domains ``domains`` resolve to, in order (docs/arvo-model.md §3.4)."""
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
