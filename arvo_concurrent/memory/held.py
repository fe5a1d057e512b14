"""The memory's fast path: what the facade knows about the leases it saw granted.

Why it is correct. One invariant carries it: every message that writes, unlocks,
cleans up, clears, withdraws a request or expires leases is queued to the memory actor
under :attr:`HeldLeases.gate`, together with the change it makes to these records
(queuing never blocks; nothing else is done under the gate), and every lock request is
noted here before it is queued. The records and the actor's inbox therefore change in
one order, and:

* Fencing. A write carries the fence of its owner's recorded lease; the actor refuses
  it when a later lease was granted on the id. So a record outlives its lease: it goes
  with its owner's unlock, a withdrawal, a clear, or when the actor forgets the id.
* Leases and vouching. A record vouches for its lease until the expiry its grant
  announced. Every other end of a lease (unlock, withdrawal, someone else's cleanup,
  clear) is sent through the facade and first drops the vouching it makes untrue; the
  lease timer reads the clock and queues the expiry under the gate. So a write or
  unlock found vouched under the gate is queued ahead of whatever ends its lease, and
  the actor cannot refuse it.
* The wait rule. A caller waits for the actor only when the actor may refuse or must
  answer with data: a lock, a write or unlock not vouched for, a read the snapshot
  cannot serve, a cleanup, a clear. A vouched write or unlock is queued one-way.
* Lapsed fences. The actor keeps the latest fence of an id whose lease ended without
  an unlock for as long as any lease on it could be in force, then forgets it and
  drops the id's records here (:meth:`HeldLeases.forget`): their owners' writes then
  count as writes by owners without a lease, which the actor judges alike.
* Snapshots. The grant carries the state; the holder's reads are answered from it while
  the lease is vouched for and nothing changed the id since the request. Each request
  is noted before it is sent and every change of the id drops the notes; a grant whose
  note is gone is recorded for its fence only.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, Final

import msgspec

from arvo_concurrent.memory.messages import Grant, LeasesDue

__all__ = ["NO_SNAPSHOT", "HeldLeases", "UnlockPlan", "WritePlan"]


class _NoSnapshot:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_SNAPSHOT"


NO_SNAPSHOT: Final = _NoSnapshot()
"""What :meth:`HeldLeases.snapshot` returns when the read must ask the actor."""

_NEVER = -math.inf


class WritePlan(msgspec.Struct, frozen=True):
    """How to send a write.

    Attributes:
        fence: the fence to send, None when the owner has no recorded lease.
        vouched: the lease is in force: the write cannot be refused and needs no answer.
    """

    fence: int | None
    vouched: bool


class UnlockPlan(msgspec.Struct, frozen=True):
    """How to send an unlock.

    Attributes:
        fence: the fence of the lease to release, None when there is no record.
        vouched: the lease is in force: the release cannot fail and needs no answer.
    """

    fence: int | None
    vouched: bool


class Held(msgspec.Struct):
    """One owner's lease on one id, as the facade saw it granted.

    Attributes:
        fence: the lease's fencing number.
        vouched_until: scheduler time until which the lease is known to be in force
            (minus infinity: not known at all).
        snapshot: the stored state as granted, or NO_SNAPSHOT once it may be stale.
    """

    fence: int
    vouched_until: float
    snapshot: Any


class HeldLeases:
    """The fast path's one owner: the records of granted leases and of lock requests.

    Thread-safety: :meth:`snapshot` is lock-free; :meth:`forget` and
    :meth:`send_expiry` take :attr:`gate` themselves; every other method must be
    called with :attr:`gate` held, and the message it plans queued before the gate is
    released. The gate is only ever held for that (by callers, the lease timer and the
    actor), never while waiting for anything, so no method blocks for long.

    Args:
        clock: the scheduler's clock, the one lease expiries are measured on.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.gate = threading.Lock()
        self._clock = clock
        self._held: dict[str, dict[Any, Held]] = {}
        self._asked: dict[str, dict[Any, int]] = {}

    # -- the lease timer ---------------------------------------------------------------

    def send_expiry(self, tell: Callable[[object], None]) -> None:
        """On the lease timer: queue the expiry of every lease due now. Takes the gate.

        Reading the clock and queuing under the gate puts every write and unlock found
        vouched for (clock checked under the gate) ahead of its lease's expiry.
        """
        with self.gate:
            tell(LeasesDue(self._clock()))

    # -- reads, writes, unlocks --------------------------------------------------------

    def snapshot(self, machine_id: str, owner: Any) -> Any:
        """The state ``owner``'s lease was granted with, or NO_SNAPSHOT. Lock-free.

        Only while the lease is vouched for: then nobody else can have changed the
        state, since anyone else's write is refused and every other change first drops
        the snapshot.
        """
        owners = self._held.get(machine_id)
        held = None if owners is None else owners.get(owner)
        if held is None:
            return NO_SNAPSHOT
        snapshot = held.snapshot
        if snapshot is NO_SNAPSHOT or self._clock() >= held.vouched_until:
            return NO_SNAPSHOT
        return snapshot

    def plan_write(self, machine_id: str, owner: Any) -> WritePlan:
        """``owner`` writes ``machine_id``: drop its snapshot; say how to send the write."""
        # A write without a fence is stored if the owner holds the lock but has not
        # collected the grant yet: that grant's snapshot would not show it.
        self._forget_request(machine_id, owner, None)
        held = self._get(machine_id, owner)
        if held is None:
            return WritePlan(None, vouched=False)
        held.snapshot = NO_SNAPSHOT
        return WritePlan(held.fence, vouched=self._clock() < held.vouched_until)

    def plan_unlock(self, machine_id: str, owner: Any) -> UnlockPlan:
        """``owner`` unlocks ``machine_id``: drop its record; say how to send the release."""
        # A grant collected after this unlock would describe a lease it may release.
        self._forget_request(machine_id, owner, None)
        held = self._drop(machine_id, owner)
        if held is None:
            return UnlockPlan(None, vouched=False)
        return UnlockPlan(held.fence, vouched=self._clock() < held.vouched_until)

    # -- lock requests -----------------------------------------------------------------

    def note_request(self, machine_id: str, owner: Any, ticket: int) -> None:
        """Lock request ``ticket`` is about to be sent."""
        self._asked.setdefault(machine_id, {})[owner] = ticket

    def record_answer(self, machine_id: str, owner: Any, ticket: int, grant: Grant | None) -> None:
        """Record the answer to request ``ticket``: a grant, or None (refused, withdrawn)."""
        intact = self._forget_request(machine_id, owner, ticket)
        if grant is None:
            return
        owners = self._held.setdefault(machine_id, {})
        held = owners.get(owner)
        if held is not None and held.fence == grant.fence:
            # A renewal of a lease already recorded: the record has seen everything sent
            # since the request (the owner's writes dropped its snapshot), the grant may not.
            if held.vouched_until != _NEVER:
                held.vouched_until = max(held.vouched_until, grant.expires_at)
        elif intact:
            owners[owner] = Held(grant.fence, grant.expires_at, grant.data)
        else:
            owners[owner] = Held(grant.fence, _NEVER, NO_SNAPSHOT)

    def note_abandon(self, machine_id: str, owner: Any, ticket: int) -> None:
        """``owner`` gives up waiting for request ``ticket``, which the actor may have granted.

        The actor then drops the lease that request obtained, which may be the one
        ``owner``'s record describes, renewed since by another request.
        """
        self._forget_request(machine_id, owner, ticket)
        self._drop(machine_id, owner)

    # -- whole ids ---------------------------------------------------------------------

    def note_cleanup(self, machine_id: str, owner: Any) -> None:
        """``owner`` cleans ``machine_id`` up: the state goes, and every lease but ``owner``'s.

        The other owners keep their fences, unvouched: a write they make later must
        still be refused once a later lease was granted.
        """
        self._asked.pop(machine_id, None)
        for other, held in self._held.get(machine_id, {}).items():
            held.snapshot = NO_SNAPSHOT
            if other != owner:
                held.vouched_until = _NEVER

    def note_clear(self) -> None:
        """Every state and lease goes."""
        self._asked.clear()
        self._held.clear()

    def forget(self, machine_ids: list[str]) -> None:
        """The actor forgot the lapsed fences of ``machine_ids``: drop their records.

        Takes the gate. No lease is in force on them, so every record left is one whose
        lease lapsed: without it, its owner's write is judged as one by an owner without
        a lease, which the actor now treats alike.
        """
        with self.gate:
            for machine_id in machine_ids:
                self._held.pop(machine_id, None)

    # -- records -----------------------------------------------------------------------

    def _get(self, machine_id: str, owner: Any) -> Held | None:
        owners = self._held.get(machine_id)
        return None if owners is None else owners.get(owner)

    def _drop(self, machine_id: str, owner: Any) -> Held | None:
        owners = self._held.get(machine_id)
        held = None if owners is None else owners.pop(owner, None)
        if owners is not None and not owners:
            del self._held[machine_id]
        return held

    def _forget_request(self, machine_id: str, owner: Any, ticket: int | None) -> bool:
        """Drop ``owner``'s request note (if ``ticket``, only that one): was it there?"""
        asked = self._asked.get(machine_id)
        if asked is None or owner not in asked or (ticket is not None and asked[owner] != ticket):
            return False
        del asked[owner]
        if not asked:
            del self._asked[machine_id]
        return True
