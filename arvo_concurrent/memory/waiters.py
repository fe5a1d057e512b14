"""Lock requests parked until their machine's lock frees or their wait budget ends."""

from __future__ import annotations

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
        reply: where the grant (or None, once the budget is spent) goes.
        deadline: scheduler time at which its wait budget is spent.
    """

    machine_id: str
    owner: Any
    ticket: int
    reply: Reply[Grant | None]
    deadline: float


class WaitQueues:
    """FIFO queues of waiters, one per machine id, plus every waiter in deadline order.

    Every wait has the same budget on a clock that never goes back, so parking order
    is deadline order across all ids: the next deadline is the oldest waiter, and one
    timer per memory suffices. Every operation is O(1) per waiter.
    Not thread-safe: owned by the memory actor.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, OrderedDict[int, Waiter]] = {}
        self._by_deadline: OrderedDict[int, Waiter] = OrderedDict()

    def park(self, waiter: Waiter) -> None:
        """Queue ``waiter`` behind the others waiting for its id."""
        self._by_id.setdefault(waiter.machine_id, OrderedDict())[waiter.ticket] = waiter
        self._by_deadline[waiter.ticket] = waiter

    def pop_next(self, machine_id: str) -> Waiter | None:
        """Take the longest-waiting request for ``machine_id``, if any."""
        queue = self._by_id.get(machine_id)
        if queue is None:
            return None
        waiter = queue.popitem(last=False)[1]
        if not queue:
            del self._by_id[machine_id]
        del self._by_deadline[waiter.ticket]
        return waiter

    def remove(self, ticket: int) -> Waiter | None:
        """Take request ``ticket`` out of its queue, if it is still waiting."""
        waiter = self._by_deadline.pop(ticket, None)
        if waiter is not None:
            queue = self._by_id[waiter.machine_id]
            del queue[ticket]
            if not queue:
                del self._by_id[waiter.machine_id]
        return waiter

    def pop_due(self, at: float) -> list[Waiter]:
        """Take every waiter whose deadline is at or before ``at``."""
        due: list[Waiter] = []
        while self._by_deadline:
            waiter = next(iter(self._by_deadline.values()))
            if waiter.deadline > at:
                break
            self.remove(waiter.ticket)
            due.append(waiter)
        return due

    def earliest_deadline(self) -> float | None:
        """The first deadline to come, or None when nobody waits."""
        if not self._by_deadline:
            return None
        return next(iter(self._by_deadline.values())).deadline

    def drain(self) -> list[Waiter]:
        """Take every waiter of every id."""
        waiters = list(self._by_deadline.values())
        self._by_deadline.clear()
        self._by_id.clear()
        return waiters

    def count(self, machine_id: str) -> int:
        """How many requests wait for ``machine_id``."""
        queue = self._by_id.get(machine_id)
        return 0 if queue is None else len(queue)
