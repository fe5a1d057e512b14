"""Helpers for testing code built on arvo-concurrent (a public subpackage).

``from arvo_concurrent.testing import ManualScheduler``: a clock that moves only when
the test says so. Give it to a memory (``ConcurrentMachineMemory(scheduler=clock)``)
and lease expiries and lock-wait deadlines happen inside ``clock.advance(seconds)``,
in deadline order, without sleeping. Nothing here is used by the library itself.
"""

from __future__ import annotations

from arvo_concurrent.testing.scheduler import ManualScheduler

__all__ = ["ManualScheduler"]
