"""Random lock / unlock / write / read / cleanup / expiry sequences against a simple model.

Several owners act on two ids through one thread (``lock_max_retries=0``, so a lock
never waits); a ManualScheduler drives lease expiry. Times are binary fractions so
that the model's clock and the scheduler's agree exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from arvo_concurrent.actors.scheduler import ManualScheduler
from arvo_concurrent.memory import ConcurrentMachineMemory, FencingError
from tests.memory.helpers import advance

TTL_S = 0.5
OWNERS = st.sampled_from(["a", "b", "c"])
IDS = st.sampled_from(["x", "y"])


class MemoryModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualScheduler()
        self.memory = ConcurrentMachineMemory(
            lock_max_retries=0, lock_ttl_ms=TTL_S * 1000, scheduler=self.clock
        )
        self.states: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, tuple[str, float]] = {}  # id -> (owner, expires_at)

    def holder(self, machine_id: str) -> str | None:
        lease = self.leases.get(machine_id)
        return None if lease is None else lease[0]

    @rule(owner=OWNERS, machine_id=IDS)
    def lock(self, owner: str, machine_id: str) -> None:
        expected = self.holder(machine_id) in (None, owner)
        assert self.memory.lock(machine_id, owner=owner) is expected
        if expected:
            self.leases[machine_id] = (owner, self.clock.now() + TTL_S)

    @rule(owner=OWNERS, machine_id=IDS)
    def unlock(self, owner: str, machine_id: str) -> None:
        holder = self.holder(machine_id)
        assert self.memory.unlock(machine_id, owner=owner) is (holder in (None, owner))
        if holder == owner:
            del self.leases[machine_id]

    @rule(owner=OWNERS, machine_id=IDS, value=st.integers(0, 1000))
    def write(self, owner: str, machine_id: str, value: int) -> None:
        holder = self.holder(machine_id)
        if holder not in (None, owner):
            with pytest.raises(FencingError):
                self.memory.write(machine_id, {"v": value}, owner=owner)
        else:
            self.memory.write(machine_id, {"v": value}, owner=owner)
            self.states[machine_id] = {"v": value}

    @rule(machine_id=IDS)
    def read(self, machine_id: str) -> None:
        assert self.memory.read(machine_id) == self.states.get(machine_id)

    @rule(machine_id=IDS)
    def cleanup(self, machine_id: str) -> None:
        self.memory.cleanup(machine_id)
        self.states.pop(machine_id, None)
        self.leases.pop(machine_id, None)

    @rule(seconds=st.sampled_from([0.125, 0.25, 0.5]))
    def let_time_pass(self, seconds: float) -> None:
        advance(self.memory, self.clock, seconds)
        now = self.clock.now()
        self.leases = {i: lease for i, lease in self.leases.items() if lease[1] > now}

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data())
    def holder_reads_its_own_write(self, data: st.DataObject) -> None:
        machine_id = data.draw(st.sampled_from(sorted(self.leases)))
        owner = self.leases[machine_id][0]
        self.memory.write(machine_id, {"by": owner}, owner=owner)
        self.states[machine_id] = {"by": owner}
        assert self.memory.read(machine_id) == {"by": owner}

    @invariant()
    def stored_states_match(self) -> None:
        for machine_id in ("x", "y"):
            assert self.memory.read(machine_id) == self.states.get(machine_id)

    def teardown(self) -> None:
        self.memory.close()
        self.clock.close()


MemoryModel.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_memory_matches_its_model = MemoryModel.TestCase
