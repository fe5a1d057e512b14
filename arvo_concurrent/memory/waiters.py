"""Lock requests parked until their machine's lock frees or they give up."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable
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
        reply: where the grant (or None, once it gave up) goes.
        asked_at: scheduler time of the request.
    """

    machine_id: str
    owner: Any
    ticket: int
    reply: Reply[Grant | None]
    asked_at: float


class WaitQueues:
    """FIFO queues of waiters, one per machine id, and when each one gives up.

    A waiter gives up once the lock of its id has not changed hands for one whole
    wait budget: the budget counts from its request or from the latest hand-off of
    the id to a waiter, whichever is later, so a waiter stays while the queue ahead
    of it moves. It never waits longer than ``limit_s`` after its request.

    Each live waiter has one entry in a heap of give-up times, made when it is parked
    or when its entry comes due: an entry due before the waiter's current give-up
    time (a hand-off moved it) is pushed again, so the heap holds one entry per
    waiter plus those of waiters already gone, dropped once they reach the top.
    Every entry was pushed for at most a budget ahead, so those are few.
    Not thread-safe: owned by the memory actor.

    Args:
        budget_s: how long a waiter waits without a hand-off.
        limit_s: how long a waiter waits at most.
        clock: the scheduler's clock, read at a hand-off that leaves others waiting.
    """

    def __init__(self, budget_s: float, limit_s: float, clock: Callable[[], float]) -> None:
        self._budget_s = budget_s
        self._limit_s = limit_s
        self._clock = clock
        self._by_id: dict[str, OrderedDict[int, Waiter]] = {}
        self._by_ticket: dict[int, Waiter] = {}
        self._handed_off: dict[str, float] = {}
        self._deadlines: list[tuple[float, int]] = []

    def deadline(self, machine_id: str, asked_at: float) -> float:
        """When a request for ``machine_id`` made at ``asked_at`` gives up, as things stand."""
        start = max(asked_at, self._handed_off.get(machine_id, asked_at))
        return min(start + self._budget_s, asked_at + self._limit_s)

    def park(self, waiter: Waiter) -> float:
        """Queue ``waiter`` behind the others waiting for its id; return its give-up time."""
        self._by_id.setdefault(waiter.machine_id, OrderedDict())[waiter.ticket] = waiter
        self._by_ticket[waiter.ticket] = waiter
        deadline = self.deadline(waiter.machine_id, waiter.asked_at)
        heapq.heappush(self._deadlines, (deadline, waiter.ticket))
        self._drop_stale()
        return deadline

    def pop_next(self, machine_id: str) -> Waiter | None:
        """Hand the lock of ``machine_id`` to its longest-waiting request, if any."""
        queue = self._by_id.get(machine_id)
        if queue is None:
            return None
        waiter = queue.popitem(last=False)[1]
        if queue:
            self._handed_off[machine_id] = self._clock()
        else:
            self._forget_id(machine_id)
        del self._by_ticket[waiter.ticket]
        return waiter

    def remove(self, ticket: int) -> Waiter | None:
        """Take request ``ticket`` out of its queue, if it is still waiting."""
        waiter = self._by_ticket.pop(ticket, None)
        if waiter is not None:
            queue = self._by_id[waiter.machine_id]
            del queue[ticket]
            if not queue:
                self._forget_id(waiter.machine_id)
        return waiter

    def pop_due(self, at: float) -> list[Waiter]:
        """Take every waiter that gives up at or before ``at``."""
        due: list[Waiter] = []
        while self._deadlines and self._deadlines[0][0] <= at:
            ticket = heapq.heappop(self._deadlines)[1]
            waiter = self._by_ticket.get(ticket)
            if waiter is None:
                continue
            deadline = self.deadline(waiter.machine_id, waiter.asked_at)
            if deadline <= at:
                self.remove(ticket)
                due.append(waiter)
            else:
                heapq.heappush(self._deadlines, (deadline, ticket))
        return due

    def earliest_deadline(self) -> float | None:
        """A time at or before the first give-up to come, or None when nobody waits."""
        self._drop_stale()
        return self._deadlines[0][0] if self._deadlines else None

    def drain(self) -> list[Waiter]:
        """Take every waiter of every id."""
        waiters = list(self._by_ticket.values())
        self._by_ticket.clear()
        self._by_id.clear()
        self._handed_off.clear()
        self._deadlines.clear()
        return waiters

    def _forget_id(self, machine_id: str) -> None:
        del self._by_id[machine_id]
        self._handed_off.pop(machine_id, None)

    def _drop_stale(self) -> None:
        while self._deadlines and self._deadlines[0][1] not in self._by_ticket:
            heapq.heappop(self._deadlines)
