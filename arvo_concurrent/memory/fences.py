"""The latest fence of each id that a holder lost its lease on, kept for a bounded time."""

from __future__ import annotations

import heapq

__all__ = ["LapsedFences"]


class _Record:
    __slots__ = ("fence", "keep_until")

    def __init__(self, fence: int, keep_until: float) -> None:
        self.fence = fence
        self.keep_until = keep_until


class LapsedFences:
    """Fences of ids on which a lease ended without its holder's unlock.

    Such a holder (its lease expired, or someone else's cleanup dropped it) may still
    write, under the fence it was granted. While a lease is in force the lease itself
    says which fence is the latest; once none is, only this record does, so it
    outlives every lease on the id: it lasts one TTL after the lapse, and at least as
    long as any lease granted on the id since could be in force. After that the id
    is forgotten, which bounds the records by the leases lapsed or granted on
    such ids within about one TTL.

    Each record has one heap entry, at a time no later than its ``keep_until`` (which
    only grows): an entry that comes due early is pushed again at the record's time.
    Not thread-safe: owned by the memory actor.

    Args:
        ttl_s: the lease TTL.
    """

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._by_id: dict[str, _Record] = {}
        self._due: list[tuple[float, str]] = []

    def fence(self, machine_id: str) -> int | None:
        """The latest fence granted on ``machine_id``, if the id is remembered."""
        record = self._by_id.get(machine_id)
        return None if record is None else record.fence

    def lapsed(self, machine_id: str, fence: int, expired_at: float) -> float:
        """The lease ``fence`` on ``machine_id`` ended without an unlock; return its keep time.

        ``expired_at`` is when it expired, or (dropped by a cleanup) when it was dropped.
        """
        return self._keep(machine_id, fence, expired_at + self._ttl_s)

    def granted(self, machine_id: str, fence: int, expires_at: float) -> None:
        """A lease was granted (or renewed) on ``machine_id``: keep a remembered id as long."""
        if machine_id in self._by_id:
            self._keep(machine_id, fence, expires_at)

    def pop_due(self, at: float) -> list[str]:
        """Forget every id whose record lasts until ``at`` or earlier; return them."""
        due: list[str] = []
        while self._due and self._due[0][0] <= at:
            machine_id = heapq.heappop(self._due)[1]
            record = self._by_id[machine_id]
            if record.keep_until <= at:
                del self._by_id[machine_id]
                due.append(machine_id)
            else:
                heapq.heappush(self._due, (record.keep_until, machine_id))
        return due

    def earliest(self) -> float | None:
        """A time at or before the first record's end, or None when there is none."""
        return self._due[0][0] if self._due else None

    def clear(self) -> None:
        """Forget every id."""
        self._by_id.clear()
        self._due.clear()

    def _keep(self, machine_id: str, fence: int, until: float) -> float:
        record = self._by_id.get(machine_id)
        if record is None:
            self._by_id[machine_id] = _Record(fence, until)
            heapq.heappush(self._due, (until, machine_id))
            return until
        record.fence = fence
        record.keep_until = max(record.keep_until, until)
        return record.keep_until
