"""What the facade knows about the leases its callers were granted.

For each (machine id, owner), from the grant until that owner unlocks:

* the lease's fencing number, sent with every write by that owner, so that the actor
  refuses a write made under a lease that is no longer the latest one. The record
  outlives the lease for that reason: it goes with the owner's unlock, a clear, or
  when the actor forgets the id's lapsed fence (the records of an id whose leases
  all lapsed long enough ago, see :class:`~arvo_concurrent.memory.fences.LapsedFences`);
* until when the facade can vouch that the lease is in force. While it can, the
  holder's write and unlock cannot be refused, so they are sent without waiting for
  an answer;
* the state the grant carried, so that the holder's first read needs no message.

Why vouching holds. A lease stays in force in the actor until its expiry, its
holder's unlock, a cleanup of its id by someone else, a clear, or the withdrawal of
the request that obtained it. All but expiry are sent through the facade, and each
drops what it makes untrue before its message is queued, under one gate: the owner's
record (unlock, withdrawal), the id's other owners' vouching and snapshots (cleanup:
their fences stay, for their later writes to be refused), every record (clear), and
the owner's snapshot (its own write, its own cleanup). Expiry is on the
scheduler's clock: a record vouches for its lease only until the expiry the grant
announced, and the lease timer reads the clock and queues the expiry under the same
gate, so a write sent unanswered (clock checked under the gate) is queued ahead of
the expiry of its lease. The actor handles its inbox in order, so such a write or
unlock reaches the lease while it is still in force.

A grant is collected by its caller after the actor made it, so something may have
been sent between the request and the collection that the grant does not show. Each
request is noted (by ticket) before it is sent, and the same operations drop the notes
they affect; a grant whose note is gone is recorded for its fence only, neither
vouched for nor with a snapshot, so that the holder's reads, writes and unlock ask
the actor.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, Final

from arvo_concurrent.memory.messages import Grant

__all__ = ["NO_SNAPSHOT", "HeldLeases"]


class _NoSnapshot:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_SNAPSHOT"


NO_SNAPSHOT: Final = _NoSnapshot()
"""What :meth:`HeldLeases.snapshot` returns when the read must ask the actor."""

_NEVER = -math.inf


class Held:
    """One owner's lease on one id, as the facade saw it granted.

    Attributes:
        fence: the lease's fencing number.
        vouched_until: scheduler time until which the lease is known to be in force
            (minus infinity: not known at all).
        snapshot: the stored state as granted, or NO_SNAPSHOT once it may be stale.
    """

    __slots__ = ("fence", "snapshot", "vouched_until")

    def __init__(self, fence: int, vouched_until: float, snapshot: Any) -> None:
        self.fence = fence
        self.vouched_until = vouched_until
        self.snapshot = snapshot


class HeldLeases:
    """The facade's records of granted leases, by machine id and owner.

    Every method but :meth:`snapshot` must be called with :attr:`gate` held, and the
    message it prepares must be queued to the actor before the gate is released (queuing
    never blocks), so that the records and the actor's inbox change together. The gate
    is only ever held for that: by callers and by the lease timer, and by the actor
    for :meth:`forgetting`, never while waiting for anything.

    Args:
        clock: the scheduler's clock, the one lease expiries are measured on.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.gate = threading.Lock()
        self._clock = clock
        self._held: dict[str, dict[Any, Held]] = {}
        self._asked: dict[str, dict[Any, int]] = {}

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

    def asking(self, machine_id: str, owner: Any, ticket: int) -> None:
        """Note lock request ``ticket``, before it is sent."""
        self._asked.setdefault(machine_id, {})[owner] = ticket

    def answered(self, machine_id: str, owner: Any, ticket: int, grant: Grant | None) -> None:
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

    def writing(self, machine_id: str, owner: Any) -> tuple[int | None, bool]:
        """``owner`` writes ``machine_id``: drop its snapshot.

        Returns:
            The fence to send (None if there is no record), and whether the lease is
            vouched for, in which case the write cannot be refused and needs no answer.
        """
        # A write without a fence is stored if the owner holds the lock but has not
        # collected the grant yet: that grant's snapshot would not show it.
        self._forget_request(machine_id, owner, None)
        held = self._get(machine_id, owner)
        if held is None:
            return None, False
        held.snapshot = NO_SNAPSHOT
        return held.fence, self._clock() < held.vouched_until

    def unlocking(self, machine_id: str, owner: Any) -> tuple[int | None, bool]:
        """``owner`` unlocks ``machine_id``: drop its record.

        Returns:
            The fence to send (None if there is no record), and whether the lease is
            vouched for, in which case the release cannot fail and needs no answer.
        """
        # A grant collected after this unlock would describe a lease it may release.
        self._forget_request(machine_id, owner, None)
        held = self._drop(machine_id, owner)
        if held is None:
            return None, False
        return held.fence, self._clock() < held.vouched_until

    def cleaning(self, machine_id: str, owner: Any) -> None:
        """``owner`` cleans ``machine_id`` up: the state goes, and every lease but ``owner``'s.

        The other owners keep their fences, unvouched: a write they make later must
        still be refused once a later lease was granted.
        """
        self._asked.pop(machine_id, None)
        for other, held in self._held.get(machine_id, {}).items():
            held.snapshot = NO_SNAPSHOT
            if other != owner:
                held.vouched_until = _NEVER

    def forgetting(self, machine_ids: list[str]) -> None:
        """The actor forgot the lapsed fences of ``machine_ids``: drop their records.

        No lease is in force on them, so every record left is one whose lease lapsed:
        without it, its owner's write is judged as one by an owner without a lease,
        which the actor now treats alike.
        """
        for machine_id in machine_ids:
            self._held.pop(machine_id, None)

    def abandoning(self, machine_id: str, owner: Any, ticket: int) -> None:
        """``owner`` gives up waiting for request ``ticket``, which the actor may have granted.

        The actor then drops the lease that request obtained, which may be the one
        ``owner``'s record describes, renewed since by another request.
        """
        self._forget_request(machine_id, owner, ticket)
        self._drop(machine_id, owner)

    def clearing(self) -> None:
        """Every state and lease goes."""
        self._asked.clear()
        self._held.clear()

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
