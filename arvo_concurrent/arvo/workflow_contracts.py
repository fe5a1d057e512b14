"""Binding a workflow's ``{"self": ..., "services": {...}}`` contracts, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from arvo_concurrent.arvo.contract import (
    ArvoContract,
    VersionedArvoContract,
    is_orchestrator_contract,
)
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.service_index import ServiceIndex

__all__ = ["OrchestrationContracts", "bind_contracts", "check_orchestrator_contract"]

_C = TypeVar("_C", ArvoContract, VersionedArvoContract)


def check_orchestrator_contract(contract: object, field: str) -> None:
    """Raise HandlerConfigError unless ``contract`` is an orchestrator contract (or its version)."""
    if not is_orchestrator_contract(contract):
        raise HandlerConfigError(
            field,
            contract,
            f"{field} must be an orchestrator contract (create_arvo_orchestrator_contract), "
            f"got {contract!r}",
        )


@dataclass(frozen=True, slots=True)
class OrchestrationContracts:
    """The contracts of one workflow version: its own and its services'.

    Attributes:
        self_contract: the orchestrator contract version.
        services: the indexed service contracts.
    """

    self_contract: VersionedArvoContract
    services: ServiceIndex

    @classmethod
    def from_mapping(cls, contracts: Mapping[str, Any]) -> OrchestrationContracts:
        """Bind ``{"self": orchestrator_contract.version(v), "services": {...}}``.

        Raises:
            HandlerConfigError: a key is missing or unknown, or a contract is unsuitable.
        """
        own, services = bind_contracts(
            contracts,
            VersionedArvoContract,
            "contracts['self'] must be an orchestrator contract version (contract.version(v))",
        )
        return cls(own, services)


def bind_contracts(contracts: object, kind: type[_C], rule: str) -> tuple[_C, ServiceIndex]:
    """Split ``{"self": ..., "services": {...}}`` into the checked self contract and the index.

    Args:
        contracts: the mapping a workflow was given.
        kind: what ``contracts["self"]`` must be (a contract, or one of its versions).
        rule: the error message when it is not.

    Raises:
        HandlerConfigError: a key is missing or unknown, or a contract is unsuitable.
    """
    if not isinstance(contracts, Mapping) or set(contracts) != {"self", "services"}:
        raise HandlerConfigError(
            "contracts", contracts, "contracts must be {'self': ..., 'services': {...}}"
        )
    own = contracts["self"]
    if not isinstance(own, kind):
        raise HandlerConfigError("contracts['self']", own, rule)
    check_orchestrator_contract(own, "contracts['self']")
    return own, ServiceIndex.build(contracts["services"], own.uri)
