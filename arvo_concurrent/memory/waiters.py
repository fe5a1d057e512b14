"""Lock requests parked until their machine's lock frees or their deadline passes."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import Any

import msgspec

from arvo_concurrent.memory.messages import Grant
from arvo_concurrent.memory.reply import Reply

__all__ = ["WaitQueues", "Waiter"]


class Waiter(msgspec.Struct, frozen=True):
    """A parked lock request.

    Attributes:
        machine_id: the id it waits for.
        owner: who will hold the lock.
        ticket: the request's number (unique per memory).
        reply: where the grant (or None, once the deadline passed) goes.
        deadline: scheduler time at which its wait budget is spent.
    """

    machine_id: str
    owner: Any
    ticket: int
    reply: Reply[Grant | None]
    deadline: float


class WaitQueues:
    """FIFO queues of waiters, one per machine id, plus a heap of their deadlines.

    Deadlines are set by the callers when they ask, so requests can reach the actor
    slightly out of deadline order: a heap, not arrival order, finds the next one.
    A waiter that leaves its queue (granted or withdrawn) leaves a stale heap entry,
    dropped once it reaches the top. What stays has a deadline no earlier than the
    oldest live waiter's, so the heap only holds requests of about one wait budget.
    Not thread-safe: owned by the memory actor.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, OrderedDict[int, Waiter]] = {}
        self._by_ticket: dict[int, Waiter] = {}
        self._deadlines: list[tuple[float, int]] = []

    def park(self, waiter: Waiter) -> None:
        """Queue ``waiter`` behind the others waiting for its id."""
        self._by_id.setdefault(waiter.machine_id, OrderedDict())[waiter.ticket] = waiter
        self._by_ticket[waiter.ticket] = waiter
        heapq.heappush(self._deadlines, (waiter.deadline, waiter.ticket))
        self._drop_stale()

    def pop_next(self, machine_id: str) -> Waiter | None:
        """Take the longest-waiting request for ``machine_id``, if any."""
        queue = self._by_id.get(machine_id)
        if queue is None:
            return None
        waiter = queue.popitem(last=False)[1]
        if not queue:
            del self._by_id[machine_id]
        del self._by_ticket[waiter.ticket]
        return waiter

    def remove(self, ticket: int) -> Waiter | None:
        """Take request ``ticket`` out of its queue, if it is still waiting."""
        waiter = self._by_ticket.pop(ticket, None)
        if waiter is not None:
            queue = self._by_id[waiter.machine_id]
            del queue[ticket]
            if not queue:
                del self._by_id[waiter.machine_id]
        return waiter

    def pop_due(self, at: float) -> list[Waiter]:
        """Take every waiter whose deadline is at or before ``at``."""
        due: list[Waiter] = []
        while self._deadlines and self._deadlines[0][0] <= at:
            waiter = self.remove(heapq.heappop(self._deadlines)[1])
            if waiter is not None:
                due.append(waiter)
        return due

    def earliest_deadline(self) -> float | None:
        """The first deadline to come, or None when nobody waits."""
        self._drop_stale()
        return self._deadlines[0][0] if self._deadlines else None

    def drain(self) -> list[Waiter]:
        """Take every waiter of every id."""
        waiters = list(self._by_ticket.values())
        self._by_ticket.clear()
        self._by_id.clear()
        self._deadlines.clear()
        return waiters

    def _drop_stale(self) -> None:
        while self._deadlines and self._deadlines[0][1] not in self._by_ticket:
            heapq.heappop(self._deadlines)
