"""The unit of work a :class:`~arvo_concurrent.actors.pool.HandlerPool` runs.

A pool knows nothing of events or handlers: it runs items. An item that is a
:class:`Work` says itself what running it means (:meth:`Work.run`) and what must happen
once the pool no longer counts it (:meth:`Work.settle`); the broker's
:class:`~arvo_concurrent.broker.delivery.Delivery` is one. A pool made with functions
of its own (``execute``, ``settle``) runs any item through them instead.
"""

from __future__ import annotations

from operator import methodcaller
from typing import Any, Protocol

__all__ = ["Work", "run_work", "settle_work"]


class Work(Protocol):
    """One item a pool runs; both methods run on the pool worker that took it."""

    def run(self) -> object:
        """Do the work. Should not raise: what escapes is logged and the item settled."""
        ...

    def settle(self) -> object:
        """Finish up once the pool no longer counts the item as running.

        Its worker takes nothing else before this returned; should not raise either.
        """
        ...


# methodcaller runs in C: the pool's default costs no Python frame of its own per item.
run_work: Any = methodcaller("run")
"""``run_work(item)`` calls ``item.run()``: a pool's default ``execute``."""

settle_work: Any = methodcaller("settle")
"""``settle_work(item)`` calls ``item.settle()``: a pool's default ``settle``."""
