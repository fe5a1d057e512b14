"""Shared helpers of the memory tests: an injected clock and a way to let it settle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from arvo_concurrent.actors.scheduler import ManualScheduler
from arvo_concurrent.memory import ConcurrentMachineMemory

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


@contextmanager
def manual_memory(**settings: Any) -> Iterator[tuple[ConcurrentMachineMemory, ManualScheduler]]:
    """A memory on a ManualScheduler; both are closed on exit."""
    clock = ManualScheduler()
    memory = ConcurrentMachineMemory(scheduler=clock, **settings)
    try:
        yield memory, clock
    finally:
        memory.close()
        clock.close()
