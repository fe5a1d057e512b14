"""Shared helpers of the memory tests: an injected clock and a way to let it settle."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from arvo_concurrent.actors.scheduler import TimerHandle
from arvo_concurrent.memory import ConcurrentMachineMemory
from arvo_concurrent.testing import ManualScheduler

SYNC_ID = "__sync__"


def sync(memory: ConcurrentMachineMemory) -> None:
    """Return once the actor has handled every message queued before this call.

    A read of an id nobody locks is one round trip through the actor's FIFO inbox.
    """
    memory.read(SYNC_ID)


def advance(memory: ConcurrentMachineMemory, clock: ManualScheduler, seconds: float) -> None:
    """Move the clock and wait until every timer that became due has taken effect.

    The actor re-arms its timers when it handles a due one, which may be after
    ``advance`` returned; a re-armed timer that is already due then runs at the next
    ``advance(0)``. Loop until nothing more is due.
    """
    ran = clock.advance(seconds)
    while ran:
        sync(memory)
        ran = clock.advance(0)
    sync(memory)


class SignallingScheduler(ManualScheduler):
    """A ManualScheduler that sets ``scheduled`` whenever a timer is set.

    The memory actor sets one when it parks a lock request (its wait deadline), so a
    test can tell that a request made on another thread is parked.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scheduled = threading.Event()

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        handle = super().call_later(delay_s, callback)
        self.scheduled.set()
        return handle


@contextmanager
def manual_memory(
    **settings: Any,
) -> Iterator[tuple[ConcurrentMachineMemory, SignallingScheduler]]:
    """A memory on a SignallingScheduler (a ManualScheduler); both are closed on exit."""
    clock = SignallingScheduler()
    memory = ConcurrentMachineMemory(scheduler=clock, **settings)
    try:
        yield memory, clock
    finally:
        memory.close()
        clock.close()


def lease_records(memory: ConcurrentMachineMemory) -> dict[str, int]:
    """How many records of each kind the memory keeps about leases and lock requests.

    Reads the facade's and the actor's internals once the actor is idle (after a
    round trip), so the counts are exact: this is what grows if something leaks.
    """
    sync(memory)
    actor = memory._ref._actor_weakref()
    assert actor is not None
    held = memory._held
    return {
        "facade_leases": sum(len(owners) for owners in held._held.values()),
        "facade_ids": len(held._held),
        "facade_requests": len(held._asked),
        "leases": len(actor._leases._by_id),
        "lapsed_fences": len(actor._lapsed._by_id),
        "lapsed_timers": len(actor._lapsed._due),
        "waiters": len(actor._waiters._by_ticket),
        "waiting_ids": len(actor._waiters._by_id),
    }
