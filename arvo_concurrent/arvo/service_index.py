"""The services a workflow calls, indexed by name, request type and reply type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arvo_concurrent.arvo.contract import VersionedArvoContract
from arvo_concurrent.arvo.handler import HandlerConfigError

__all__ = ["ServiceIndex"]


@dataclass(frozen=True, slots=True)
class ServiceIndex:
    """The services a workflow calls, indexed for emitting calls and resolving replies.

    Attributes:
        by_name: the services as given.
        by_accepts_type: the service for each request type it accepts.
        by_response_type: ``(service, schema)`` for each reply type: every emit type
            and the service's ``sys.<type>.error``.
    """

    by_name: Mapping[str, VersionedArvoContract]
    by_accepts_type: Mapping[str, VersionedArvoContract]
    by_response_type: Mapping[str, tuple[VersionedArvoContract, Any]]

    @property
    def response_types(self) -> frozenset[str]:
        """Every event type a service may send back."""
        return frozenset(self.by_response_type)

    @classmethod
    def build(cls, services: object, self_uri: str) -> ServiceIndex:
        """Index ``{name: contract.version(v)}``.

        Raises:
            HandlerConfigError: a service is not a versioned contract, two services share a
                uri or a request type, or a service has the workflow's own uri.
        """
        if not isinstance(services, Mapping):
            raise HandlerConfigError(
                "services", services, f"services must map names to contract versions: {services!r}"
            )
        by_accepts: dict[str, VersionedArvoContract] = {}
        by_response: dict[str, tuple[VersionedArvoContract, Any]] = {}
        uris: dict[str, str] = {}
        for name, contract in services.items():
            where = f"services[{name!r}]"
            if not isinstance(contract, VersionedArvoContract):
                raise HandlerConfigError(
                    where,
                    contract,
                    f"{where} must be a contract version (contract.version('1.0.0'))",
                )
            if contract.uri == self_uri:
                raise HandlerConfigError(where, contract.uri, f"{where} has the workflow's own uri")
            if contract.uri in uris:
                raise HandlerConfigError(
                    where,
                    contract.uri,
                    f"{where} and services[{uris[contract.uri]!r}] share uri {contract.uri!r}",
                )
            uris[contract.uri] = name
            if contract.accepts.type in by_accepts:
                raise HandlerConfigError(
                    where,
                    contract.accepts.type,
                    f"{where}: two services accept {contract.accepts.type!r}",
                )
            by_accepts[contract.accepts.type] = contract
            for event_type, schema in contract.emits.items():
                by_response[event_type] = (contract, schema)
            by_response[contract.system_error.type] = (contract, contract.system_error.schema)
        return cls(dict(services), by_accepts, by_response)
