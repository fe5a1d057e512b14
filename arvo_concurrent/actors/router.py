"""The router: the one owner of the topic -> pool table.

Subscription changes (install, remove, clear, seal at close) are messages to the
router actor, so they are serialized without a lock that publishers would contend on.
After each change the router publishes a new immutable mapping in a
:class:`RouteTable`; publishers read it without any lock or hand-off and route in
their own thread. Routing through the actor instead would add a thread hand-off to
every event (a ``tell`` costs about as much as a whole hop through the pools).

A publisher may read a table that is one change old and submit to a pool that was just
removed; :meth:`HandlerPool.submit` then refuses it and the publisher treats the event
as unroutable, so no event slips into a pool nobody will run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any

from arvo_concurrent.actors.base import LibraryActor
from arvo_concurrent.actors.messages import Install, Remove, RemoveAll, Seal
from arvo_concurrent.actors.pool import HandlerPool

__all__ = ["InstallOutcome", "RouteTable", "Router"]

logger = logging.getLogger(__name__)


class InstallOutcome(Enum):
    """The router's reply to :class:`~arvo_concurrent.actors.messages.Install`."""

    INSTALLED = "installed"
    CONFLICT = "conflict"
    SEALED = "sealed"


class RouteTable:
    """The router's current topic -> pool mapping, readable from any thread.

    ``pools`` is replaced, never mutated, so a reader always sees one consistent table.
    """

    def __init__(self) -> None:
        self.pools: Mapping[str, HandlerPool] = MappingProxyType({})

    def clear(self) -> None:
        """Empty the table: for a table whose router is gone (stopped by the host)."""
        self.pools = MappingProxyType({})


class Router(LibraryActor):
    """Serializes changes to a :class:`RouteTable`. Ask it; it never blocks on anyone.

    It runs no user code, so it cannot be slowed or killed by a handler.
    """

    def __init__(self, table: RouteTable) -> None:
        super().__init__()
        self._table = table
        self._pools: dict[str, HandlerPool] = {}
        self._sealed = False

    def on_receive(self, message: Any) -> Any:
        """Apply one table change and reply its result (run by Pykka on the router thread)."""
        if isinstance(message, Install):
            return self._install(message.topic, message.pool)
        if isinstance(message, Remove):
            return self._remove(message.topic, message.pool)
        if isinstance(message, RemoveAll):
            return self._remove_all()
        if isinstance(message, Seal):
            self._sealed = True
            self._remove_all()
            return None
        logger.warning("%s ignored an unexpected message %r", self, message)
        return None

    def _install(self, topic: str, pool: HandlerPool) -> InstallOutcome:
        if self._sealed:
            return InstallOutcome.SEALED
        if topic in self._pools:
            return InstallOutcome.CONFLICT
        self._pools[topic] = pool
        self._publish()
        return InstallOutcome.INSTALLED

    def _remove(self, topic: str, pool: HandlerPool) -> bool:
        # Only the pool that was installed may be removed: an old unsubscribe function
        # must not remove a newer subscription to the same topic.
        if self._pools.get(topic) is not pool:
            return False
        del self._pools[topic]
        self._publish()
        return True

    def _remove_all(self) -> list[HandlerPool]:
        pools = list(self._pools.values())
        self._pools.clear()
        self._publish()
        return pools

    def _publish(self) -> None:
        self._table.pools = MappingProxyType(dict(self._pools))
