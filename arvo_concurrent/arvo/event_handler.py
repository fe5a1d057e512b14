"""ArvoEventHandler: a stateless service bound to one contract.

The model: docs/arvo-model.md §3.

``create_arvo_event_handler(contract=..., handler={"1.0.0": fn})`` builds a handler
whose ``source`` is the contract type. For each event it selects the contract version
from the event's ``dataschema``, validates the payload, calls the version's function
and turns what it returns into reply events (3.2): to the request's ``redirectto``,
else its ``source``, with the request's subject and ``parentid`` = the request id.

Handler functions declare by parameter name what they need: ``event`` (the
ArvoEvent), ``data`` (the payload decoded into the accepts schema's Struct),
``contract`` (the VersionedArvoContract), ``source`` and ``domain``
(``{"self": contract domain, "event": event domain}``); ``**kwargs`` gets all of them.

Errors: a wrong event type, unknown version or bad payload raises a violation, as
does output that breaks the contract; any other exception from the function becomes a
``sys.<type>.error`` event sent to the request's ``source``. Like arvo-event-handler
(and unlike successes), system errors do not follow ``redirectto``: the sender is the
party that can act on a failure, and Python and TypeScript services in one system
then route errors the same way (docs/arvo-model.md §8.6, fixture
``add.system_error_reply.ignores_redirectto``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from arvo_concurrent.arvo.contract import (
    ArvoContract,
    SchemaValidationError,
    VersionedArvoContract,
    decode_data,
    parse_dataschema,
)
from arvo_concurrent.arvo.domain import ArvoDomain
from arvo_concurrent.arvo.emission_domains import emission_domains
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import (
    HandlerConfigError,
    SystemErrorSchema,
    check_handler_versions,
)
from arvo_concurrent.arvo.handler_emitter import HandlerEmitter
from arvo_concurrent.arvo.injection import Injector
from arvo_concurrent.arvo.output_items import as_items
from arvo_concurrent.arvo.system_error_emitter import SystemErrorEmitter
from arvo_concurrent.arvo.violations import (
    ConfigViolation,
    ContractViolation,
    ViolationError,
    violation_for,
)
from arvo_concurrent.observability.logfields import event_log_fields

__all__ = ["ArvoEventHandler", "create_arvo_event_handler"]

_log = logging.getLogger(__name__)

HANDLER_PARAMETERS = ("event", "data", "contract", "source", "domain")
_DEFAULT_DOMAINS = {
    "emits": (ArvoDomain.ORCHESTRATION_CONTEXT,),
    "system_error": (ArvoDomain.ORCHESTRATION_CONTEXT,),
}


class _HandlerVersion(NamedTuple):
    """One contract version of the handler: its contract, its function and its emitter."""

    contract: VersionedArvoContract
    call: Injector
    emitter: HandlerEmitter


class ArvoEventHandler:
    """A stateless Arvo service for one contract; see the module docstring.

    Immutable after construction and thread-safe: a broker may run ``execute`` for
    many events at once. ``execute`` blocks for as long as the handler function does.

    Args:
        contract: the ArvoContract the handler implements.
        handler: ``{version: fn}`` with a function for every contract version.
        execution_units: default ``executionunits`` of emitted events (None: null).
        default_event_emission_domains: ``{"emits": [...], "system_error": [...]}``,
            each default ``[ArvoDomain.ORCHESTRATION_CONTEXT]``.

    Raises:
        HandlerConfigError: a version without function (or a function for an unknown
            version), or a function declaring a parameter that is not available.
    """

    def __init__(
        self,
        *,
        contract: ArvoContract,
        handler: Mapping[str, Callable[..., Any]],
        execution_units: float | None = None,
        default_event_emission_domains: Mapping[str, Sequence[str | None]] | None = None,
    ) -> None:
        if not isinstance(contract, ArvoContract):
            raise HandlerConfigError(
                "contract", contract, f"contract must be an ArvoContract, got {contract!r}"
            )
        check_handler_versions(contract, handler)
        domains = emission_domains(default_event_emission_domains, _DEFAULT_DOMAINS)
        self.contract = contract
        self.source: str = contract.type
        self.execution_units = execution_units
        self._what = f"Handler {self.source}"
        self.system_error_schema = SystemErrorSchema.of(contract)
        self._versions = {
            version: _HandlerVersion(
                contract=contract.version(version),
                call=Injector(fn, HANDLER_PARAMETERS, f"handler for version {version}"),
                emitter=HandlerEmitter(
                    source=self.source,
                    contract=contract.version(version),
                    execution_units=execution_units,
                    domains=domains["emits"],
                ),
            )
            for version, fn in handler.items()
        }
        self._by_dataschema = {v.contract.dataschema: v for v in self._versions.values()}
        self._latest = self._versions[contract.version_list[-1]]
        self._system_errors = SystemErrorEmitter(
            source=self.source,
            contract=contract,
            execution_units=execution_units,
            domains=domains["system_error"],
        )

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        """Handle one request and return the reply events; see the module docstring.

        Raises:
            ConfigViolation: the event type is not the contract type, or its version is unknown.
            ContractViolation: dataschema uri mismatch, invalid payload or invalid output.
            ViolationError: raised by the handler function itself.
        """
        if event.type != self.source:
            raise violation_for(
                ConfigViolation,
                f"Event type mismatch: handler {self.source!r} got {event.type!r}",
                event,
            )
        version = self._by_dataschema.get(event.dataschema or "") or self._select(event)
        try:
            data = decode_data(version.contract.accepts.schema, event.data)
        except SchemaValidationError as exc:
            raise ContractViolation(
                f"Input event payload validation failed (event id={event.id!r}): {exc}",
                {"initiatingEvent": event},
            ) from None
        try:
            result = version.call(
                {
                    "event": event,
                    "data": data,
                    "contract": version.contract,
                    "source": self.source,
                    "domain": {"self": self.contract.domain, "event": event.domain},
                }
            )
        except ViolationError:
            raise
        except Exception as error:  # noqa: BLE001 - user code: becomes system error events
            _log.warning(
                "Handler %s failed on event %s: %r",
                self.source,
                event.id,
                error,
                extra=event_log_fields(event, topic=self.source),
            )
            return self._system_errors.events(
                error,
                event=event,
                subject=event.subject,
                to=event.source,
                parentid=event.id,
                parent_subject=None,
            )
        items = as_items(result, what=self._what, event=event)
        return version.emitter.events(items, event)

    def _select(self, event: ArvoEvent) -> _HandlerVersion:
        parsed = parse_dataschema(event.dataschema)
        if parsed is None:
            _log.debug(
                "Event %s has no usable dataschema; using the latest version",
                event.id,
                extra=event_log_fields(event, topic=self.source),
            )
            return self._latest
        uri, version = parsed
        if uri != self.contract.uri:
            raise violation_for(
                ContractViolation,
                f"Contract URI mismatch: handler uri {self.contract.uri!r}, event dataschema "
                f"{event.dataschema!r}",
                event,
            )
        found = self._versions.get(version)
        if found is None:
            raise ConfigViolation(
                f"Invalid contract version {version!r} for {self.contract.uri} "
                f"(known: {self.contract.version_list}; event id={event.id!r})",
                {"initiatingEvent": event},
            )
        return found


def create_arvo_event_handler(
    *,
    contract: ArvoContract,
    handler: Mapping[str, Callable[..., Any]],
    execution_units: float | None = None,
    default_event_emission_domains: Mapping[str, Sequence[str | None]] | None = None,
) -> ArvoEventHandler:
    """Build an :class:`ArvoEventHandler` (arvo-event-handler's ``createArvoEventHandler``).

    Example::

        def add(data: NumbersInput) -> dict:
            return {"type": "evt.calculator.add.success", "data": {"result": sum(data.numbers)}}

        handler = create_arvo_event_handler(contract=add_contract, handler={"1.0.0": add})

    Raises:
        HandlerConfigError: see :class:`ArvoEventHandler`.
    """
    return ArvoEventHandler(
        contract=contract,
        handler=handler,
        execution_units=execution_units,
        default_event_emission_domains=default_event_emission_domains,
    )
