"""The pool worker: one Pykka actor (one daemon thread) that runs its pool's items.

A worker enlists with its pool as it starts, and is told a
:class:`~arvo_concurrent.actors.messages.Dispatch` only while it is idle, so its inbox
never holds more than one item; the serving loop itself belongs to the pool
(:meth:`HandlerPool.serve`), which lets a worker that finishes take the next waiting
item directly, without a round trip through any other thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import pykka

from arvo_concurrent.actors.base import LibraryActor
from arvo_concurrent.actors.messages import Dispatch

__all__ = ["PoolWorker", "WorkerHost", "current_host", "current_worker"]

logger = logging.getLogger(__name__)

_local = threading.local()


class WorkerHost(Protocol):
    """What a worker needs from its pool."""

    def enlist(self, worker: pykka.ActorRef[PoolWorker]) -> None:
        """Register a started worker (called on the worker's thread)."""
        ...

    def serve(self, item: Any, worker: pykka.ActorRef[PoolWorker]) -> None:
        """Run a dispatched item, and whatever follows it (called on the worker's thread)."""
        ...


def current_worker() -> pykka.ActorRef[PoolWorker] | None:
    """The worker whose thread is calling, or None outside pool workers.

    A ``close()`` called from inside a handler uses it not to wait for its own worker,
    which can only stop after that handler returns.
    """
    ref: pykka.ActorRef[PoolWorker] | None = getattr(_local, "worker", None)
    return ref


def current_host() -> WorkerHost | None:
    """The pool the calling thread works for, or None outside pool workers.

    A broker's ``wait_for_idle`` uses it to refuse to wait from its own handlers.
    """
    host: WorkerHost | None = getattr(_local, "host", None)
    return host


class PoolWorker(LibraryActor):
    """A thread that serves one pool. Nothing raised by the pool escapes it.

    A tell-delivered message that raises kills a Pykka actor, and an exception in
    ``on_start`` does too, so both hooks log what escapes and the worker lives on. They
    catch ``BaseException``: one that escapes makes Pykka stop every actor in the
    process (``ActorRegistry.stop_all()``), the host application's included.
    """

    def __init__(self, host: WorkerHost) -> None:
        super().__init__()
        self._host = host

    def on_start(self) -> None:
        """Enlist with the pool, on the worker's own thread."""
        _local.worker = self.actor_ref
        _local.host = self._host
        try:
            self._host.enlist(self.actor_ref)
        except BaseException:
            logger.exception("%s could not enlist", self)

    def on_receive(self, message: Any) -> None:
        """Serve a dispatched item (run by Pykka on the worker thread); never raises."""
        if isinstance(message, Dispatch):
            try:
                self._host.serve(message.item, self.actor_ref)
            except BaseException:
                logger.exception("%s: serving %r failed", self, message.item)
        else:
            logger.warning("%s ignored an unexpected message %r", self, message)
