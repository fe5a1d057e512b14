"""Leases: who holds each machine's lock, under which fencing number, until when."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

import msgspec

__all__ = ["Lease", "LeaseBook"]


class Lease(msgspec.Struct, frozen=True):
    """One holder's right to a machine's lock.

    Attributes:
        owner: the holder.
        fence: the fencing number; every new lease gets a larger one than any before.
        expires_at: scheduler time at which the lease lapses.
        ticket: the lock request that obtained it (lets an abandoned request give it back).
    """

    owner: Any
    fence: int
    expires_at: float
    ticket: int


class LeaseBook:
    """The leases in force, by machine id, kept in expiry order.

    Every lease lasts the same TTL on a clock that never goes back, so the order in
    which leases are granted or renewed is their expiry order: the earliest expiry is
    the first entry, found and removed in O(1), and one timer per memory suffices.
    Not thread-safe: owned by the memory actor.
    """

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._by_id: OrderedDict[str, Lease] = OrderedDict()
        self._fences = itertools.count(1)

    def get(self, machine_id: str) -> Lease | None:
        """The lease on ``machine_id``, if any."""
        return self._by_id.get(machine_id)

    def grant(self, machine_id: str, owner: Any, ticket: int, now: float) -> Lease:
        """Give a new lease on a free id to ``owner``."""
        lease = Lease(owner, next(self._fences), now + self._ttl_s, ticket)
        self._by_id[machine_id] = lease
        return lease

    def renew(self, machine_id: str, now: float) -> Lease:
        """Extend the lease on ``machine_id`` by a full TTL from ``now``; the fence is kept."""
        lease = msgspec.structs.replace(self._by_id[machine_id], expires_at=now + self._ttl_s)
        self._by_id[machine_id] = lease
        self._by_id.move_to_end(machine_id)
        return lease

    def remove(self, machine_id: str) -> Lease | None:
        """Drop the lease on ``machine_id`` and return it."""
        return self._by_id.pop(machine_id, None)

    def pop_due(self, at: float) -> list[tuple[str, Lease]]:
        """Drop every lease that expires at or before ``at``; return them with their ids."""
        due: list[tuple[str, Lease]] = []
        while self._by_id:
            machine_id, lease = next(iter(self._by_id.items()))
            if lease.expires_at > at:
                break
            del self._by_id[machine_id]
            due.append((machine_id, lease))
        return due

    def earliest_expiry(self) -> float | None:
        """The first expiry to come, or None when no lease is in force."""
        if not self._by_id:
            return None
        return next(iter(self._by_id.values())).expires_at

    def clear(self) -> list[str]:
        """Drop every lease; return their ids."""
        ids = list(self._by_id)
        self._by_id.clear()
        return ids
