"""Domain resolution (docs/arvo-model.md §3.4)."""

from __future__ import annotations

import pytest

from arvo_concurrent.arvo import (
    ArvoDomain,
    ArvoEvent,
    ArvoOrchestrationSubject,
    create_arvo_event,
    create_simple_arvo_contract,
    resolve_domain,
)
from tests.arvo.contracts import ApprovalRequest, ApprovalResult, human_approval_contract

local_contract = create_simple_arvo_contract(
    uri="#/local",
    type="local.thing",
    domain="self.domain",
    versions={"1.0.0": {"accepts": ApprovalRequest, "emits": ApprovalResult}},
)


def subject(domain: str | None) -> str:
    return ArvoOrchestrationSubject.new(
        orchestrator="arvo.orc.x.y", version="1.0.0", initiator="a.b.c", domain=domain
    )


def event(domain: str | None) -> ArvoEvent:
    return create_arvo_event(type="com.x.y", source="a.b.c", subject="s", data={}, domain=domain)


def test_symbolic_values_are_arvos_strings() -> None:
    assert ArvoDomain.FROM_SELF_CONTRACT == "domain.contract.self.inherit"
    assert ArvoDomain.FROM_EVENT_CONTRACT == "domain.contract.inherit"
    assert ArvoDomain.FROM_TRIGGERING_EVENT == "domain.event.inherit"
    assert ArvoDomain.FROM_CURRENT_SUBJECT == "domain.event.current.subject"
    assert ArvoDomain.FROM_PARENT_SUBJECT == "domain.parent.subject"
    assert ArvoDomain.ORCHESTRATION_CONTEXT == "domain.orchestration.context"
    assert ArvoDomain.LOCAL is None


def test_contract_domains_from_plain_and_versioned_contracts() -> None:
    assert resolve_domain(ArvoDomain.FROM_SELF_CONTRACT, self_contract=local_contract) == (
        "self.domain"
    )
    versioned = human_approval_contract.version("1.0.0")
    assert resolve_domain(ArvoDomain.FROM_EVENT_CONTRACT, event_contract=versioned) == (
        "human.interaction"
    )
    assert resolve_domain(ArvoDomain.FROM_SELF_CONTRACT) is None
    assert resolve_domain(ArvoDomain.FROM_EVENT_CONTRACT) is None


def test_triggering_event_domain() -> None:
    assert resolve_domain(ArvoDomain.FROM_TRIGGERING_EVENT, triggering_event=event("t.d")) == "t.d"
    assert resolve_domain(ArvoDomain.FROM_TRIGGERING_EVENT, triggering_event=event(None)) is None
    assert resolve_domain(ArvoDomain.FROM_TRIGGERING_EVENT) is None


def test_subject_domains_and_unparsable_subjects() -> None:
    assert resolve_domain(ArvoDomain.FROM_CURRENT_SUBJECT, current_subject=subject("c.d")) == "c.d"
    assert resolve_domain(ArvoDomain.FROM_PARENT_SUBJECT, parent_subject=subject("p.d")) == "p.d"
    assert resolve_domain(ArvoDomain.FROM_CURRENT_SUBJECT, current_subject="plain") is None
    assert resolve_domain(ArvoDomain.FROM_PARENT_SUBJECT) is None


@pytest.mark.parametrize(
    ("triggering", "current", "expected"),
    [
        (None, "c.d", None),  # the triggering event has no domain
        ("c.d", "c.d", None),  # same domain as the trigger: stay local
        ("t.d", "c.d", "c.d"),  # crossing into the current subject's domain
        ("t.d", None, None),
    ],
)
def test_orchestration_context_without_parent(
    triggering: str | None, current: str | None, expected: str | None
) -> None:
    resolved = resolve_domain(
        ArvoDomain.ORCHESTRATION_CONTEXT,
        triggering_event=event(triggering),
        current_subject=subject(current),
    )
    assert resolved == expected


@pytest.mark.parametrize(
    ("current", "parent", "expected"),
    [("a.d", "a.d", None), ("a.d", "p.d", "p.d"), (None, "p.d", "p.d"), ("a.d", None, None)],
)
def test_orchestration_context_with_parent(
    current: str | None, parent: str | None, expected: str | None
) -> None:
    resolved = resolve_domain(
        ArvoDomain.ORCHESTRATION_CONTEXT,
        triggering_event=event("t.d"),
        current_subject=subject(current),
        parent_subject=subject(parent),
    )
    assert resolved == expected


@pytest.mark.parametrize(
    ("domain", "expected"), [("literal.domain", "literal.domain"), ("", None), (None, None)]
)
def test_literal_and_empty_domains(domain: str | None, expected: str | None) -> None:
    assert resolve_domain(domain, self_contract=local_contract) == expected
