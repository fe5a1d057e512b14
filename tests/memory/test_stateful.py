"""Random lock / unlock / write / read / cleanup / clear / expiry sequences against a model.

Several owners act on two ids through one thread (``lock_max_retries=0``, so a lock
never waits); a ManualScheduler drives lease expiry. Times are binary fractions so
that the model's clock and the scheduler's agree exactly.

The model's fencing: an owner writes under the last lease it was granted on the id and
has not unlocked (its "record"; a clear drops it too). Such a write is refused when a
later lease was granted on the id since, whether or not that one is still held. Once a
lease ended without its holder's unlock (expired, or dropped by another owner's
cleanup), the id's latest fence is kept ("lapsed") until one TTL after that, or after
any later grant on the id, whichever is last; then the id's records go too. A write
without a record is refused only while someone else holds the lock.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from arvo_concurrent.memory import ConcurrentMachineMemory, FencingError
from arvo_concurrent.testing import ManualScheduler
from tests.memory.helpers import advance

TTL_S = 0.5
OWNERS = st.sampled_from(["a", "b", "c"])
IDS = st.sampled_from(["x", "y"])


class Lease(NamedTuple):
    owner: str
    fence: int
    expires_at: float


class MemoryModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualScheduler()
        self.memory = ConcurrentMachineMemory(
            lock_max_retries=0, lock_ttl_ms=TTL_S * 1000, scheduler=self.clock
        )
        self.fences = itertools.count(1)
        self.states: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, Lease] = {}
        self.lapsed: dict[str, tuple[int, float]] = {}  # id -> (latest fence, kept until)
        self.records: dict[tuple[str, str], int] = {}  # (owner, id) -> fence

    def holder(self, machine_id: str) -> str | None:
        lease = self.leases.get(machine_id)
        return None if lease is None else lease.owner

    def latest(self, machine_id: str) -> int | None:
        lease = self.leases.get(machine_id)
        if lease is not None:
            return lease.fence
        lapsed = self.lapsed.get(machine_id)
        return None if lapsed is None else lapsed[0]

    def keep(self, machine_id: str, fence: int, until: float, new: bool) -> None:
        kept = self.lapsed.get(machine_id)
        if kept is not None:
            self.lapsed[machine_id] = (fence, max(kept[1], until))
        elif new:
            self.lapsed[machine_id] = (fence, until)

    def lapse(self, machine_id: str, at: float) -> None:
        lease = self.leases.pop(machine_id)
        self.keep(machine_id, lease.fence, at + TTL_S, new=True)

    def write_allowed(self, owner: str, machine_id: str) -> bool:
        record = self.records.get((owner, machine_id))
        if record is None:
            return self.holder(machine_id) in (None, owner)
        return self.latest(machine_id) in (None, record)

    @rule(owner=OWNERS, machine_id=IDS)
    def lock(self, owner: str, machine_id: str) -> None:
        holder = self.holder(machine_id)
        expected = holder in (None, owner)
        assert self.memory.lock(machine_id, owner=owner) is expected
        if not expected:
            return
        expires_at = self.clock.now() + TTL_S
        # A renewal keeps the fence.
        fence = self.leases[machine_id].fence if holder == owner else next(self.fences)
        self.leases[machine_id] = Lease(owner, fence, expires_at)
        self.keep(machine_id, fence, expires_at, new=False)
        self.records[(owner, machine_id)] = fence

    @rule(owner=OWNERS, machine_id=IDS)
    def unlock(self, owner: str, machine_id: str) -> None:
        holder = self.holder(machine_id)
        assert self.memory.unlock(machine_id, owner=owner) is (holder in (None, owner))
        self.records.pop((owner, machine_id), None)
        if holder == owner:
            del self.leases[machine_id]

    @rule(owner=OWNERS, machine_id=IDS, value=st.integers(0, 1000))
    def write(self, owner: str, machine_id: str, value: int) -> None:
        if self.write_allowed(owner, machine_id):
            self.memory.write(machine_id, {"v": value}, owner=owner)
            self.states[machine_id] = {"v": value}
        else:
            with pytest.raises(FencingError):
                self.memory.write(machine_id, {"v": value}, owner=owner)

    @rule(owner=OWNERS, machine_id=IDS)
    def read(self, owner: str, machine_id: str) -> None:
        # As a holder, the read may be answered from the grant: it must still be current.
        assert self.memory.read(machine_id, owner=owner) == self.states.get(machine_id)

    @rule(owner=OWNERS, machine_id=IDS)
    def cleanup(self, owner: str, machine_id: str) -> None:
        self.memory.cleanup(machine_id, owner=owner)
        self.states.pop(machine_id, None)
        holder = self.holder(machine_id)
        if holder is not None and holder != owner:
            self.lapse(machine_id, self.clock.now())

    @rule()
    def clear(self) -> None:
        self.memory.clear()
        self.states.clear()
        self.leases.clear()
        self.lapsed.clear()
        self.records.clear()

    @rule(seconds=st.sampled_from([0.125, 0.25, 0.5]))
    def let_time_pass(self, seconds: float) -> None:
        advance(self.memory, self.clock, seconds)
        now = self.clock.now()
        for machine_id, lease in list(self.leases.items()):
            if lease.expires_at <= now:
                self.lapse(machine_id, lease.expires_at)
        for machine_id in [i for i, (_, until) in self.lapsed.items() if until <= now]:
            del self.lapsed[machine_id]
            for key in [k for k in self.records if k[1] == machine_id]:
                del self.records[key]

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data(), owner=OWNERS)
    def holder_stalls_and_another_takes_over(self, data: st.DataObject, owner: str) -> None:
        # The run-up to a lost update, made likely: a lease lapses, someone else locks.
        machine_id = data.draw(st.sampled_from(sorted(self.leases)))
        self.let_time_pass(TTL_S)
        self.lock(owner, machine_id)

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data())
    def another_owner_cleans_up_a_held_id(self, data: st.DataObject) -> None:
        # Drops the holder's lease under it: its reads and unlock must notice.
        machine_id = data.draw(st.sampled_from(sorted(self.leases)))
        holder = self.leases[machine_id].owner
        self.cleanup(data.draw(OWNERS.filter(lambda owner: owner != holder)), machine_id)
        self.read(holder, machine_id)
        # Someone takes the id over and finishes; then the dropped holder writes late.
        successor = data.draw(OWNERS)
        self.lock(successor, machine_id)
        self.unlock(successor, machine_id)
        self.write(holder, machine_id, data.draw(st.integers(0, 1000)))
        self.unlock(holder, machine_id)

    def stale_records(self) -> list[tuple[str, str]]:
        return sorted(
            key for key, fence in self.records.items() if self.latest(key[1]) not in (None, fence)
        )

    @precondition(lambda self: bool(self.stale_records()))
    @rule(data=st.data(), value=st.integers(0, 1000))
    def stale_holder_writes(self, data: st.DataObject, value: int) -> None:
        owner, machine_id = data.draw(st.sampled_from(self.stale_records()))
        self.write(owner, machine_id, value)

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data())
    def holder_reads_its_own_write(self, data: st.DataObject) -> None:
        machine_id = data.draw(st.sampled_from(sorted(self.leases)))
        owner = self.leases[machine_id].owner
        self.memory.write(machine_id, {"by": owner}, owner=owner)
        self.states[machine_id] = {"by": owner}
        assert self.memory.read(machine_id, owner=owner) == {"by": owner}

    @invariant()
    def stored_states_match(self) -> None:
        for machine_id in ("x", "y"):
            assert self.memory.read(machine_id) == self.states.get(machine_id)

    def teardown(self) -> None:
        self.memory.close()
        self.clock.close()


MemoryModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_memory_matches_its_model = MemoryModel.TestCase
