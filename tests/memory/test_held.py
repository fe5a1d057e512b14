"""The fast path's owner type on its own: the plans it gives and the gate it keeps."""

from __future__ import annotations

import pytest

from arvo_concurrent.memory.held import NO_SNAPSHOT, HeldLeases, UnlockPlan, WritePlan
from arvo_concurrent.memory.messages import Grant, LeasesDue
from tests.memory.test_actor import CountingGate


class Clock:
    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def held(clock: Clock) -> HeldLeases:
    return HeldLeases(clock)


def grant(held: HeldLeases, owner: str, ticket: int, fence: int, state: object) -> None:
    with held.gate:
        held.note_request("wf", owner, ticket)
        held.record_answer("wf", owner, ticket, Grant(fence, state, expires_at=1.0))


def test_a_granted_lease_is_vouched_for_until_its_expiry(held: HeldLeases, clock: Clock) -> None:
    grant(held, "a", ticket=1, fence=7, state={"n": 1})
    assert held.snapshot("wf", "a") == {"n": 1}
    with held.gate:
        assert held.plan_write("wf", "a") == WritePlan(7, vouched=True)
    assert held.snapshot("wf", "a") is NO_SNAPSHOT  # its own write made it stale
    clock.at = 1.0
    with held.gate:
        assert held.plan_write("wf", "a") == WritePlan(7, vouched=False)
        assert held.plan_unlock("wf", "a") == UnlockPlan(7, vouched=False)
        assert held.plan_unlock("wf", "a") == UnlockPlan(None, vouched=False)  # record gone


def test_an_owner_without_a_record_plans_without_a_fence(held: HeldLeases) -> None:
    with held.gate:
        assert held.plan_write("wf", "a") == WritePlan(None, vouched=False)
        assert held.plan_unlock("wf", "a") == UnlockPlan(None, vouched=False)


def test_a_grant_collected_after_a_write_is_kept_for_its_fence_only(held: HeldLeases) -> None:
    # The write went to the actor before the grant was collected: the grant's state
    # may not show it, nor can the lease be vouched for.
    with held.gate:
        held.note_request("wf", "a", 1)
        assert held.plan_write("wf", "a") == WritePlan(None, vouched=False)
        held.record_answer("wf", "a", 1, Grant(3, {"n": 0}, expires_at=1.0))
        assert held.plan_write("wf", "a") == WritePlan(3, vouched=False)
    assert held.snapshot("wf", "a") is NO_SNAPSHOT


def test_someone_elses_cleanup_ends_vouching_but_keeps_the_fence(held: HeldLeases) -> None:
    grant(held, "a", ticket=1, fence=4, state=None)
    with held.gate:
        held.note_cleanup("wf", "b")
        assert held.plan_write("wf", "a") == WritePlan(4, vouched=False)


def test_the_expiry_is_queued_with_the_clock_read_under_the_gate(
    held: HeldLeases, clock: Clock
) -> None:
    clock.at = 2.5
    queued: list[tuple[object, bool]] = []
    held.send_expiry(lambda message: queued.append((message, held.gate.locked())))
    assert queued == [(LeasesDue(2.5), True)]
    assert not held.gate.locked()


def test_forgetting_an_id_drops_its_records_under_the_gate(held: HeldLeases) -> None:
    grant(held, "a", ticket=1, fence=5, state=None)
    gate = CountingGate()
    held.gate = gate  # type: ignore[assignment]
    held.forget(["wf"])
    assert gate.entries == 1
    with held.gate:
        assert held.plan_write("wf", "a") == WritePlan(None, vouched=False)
