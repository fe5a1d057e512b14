"""Where a broker's events travel between ``publish`` and the handler pools.

The default, in-process, is no transport at all: ``publish`` hands the event to the
pool of its topic in this process (see :mod:`~arvo_concurrent.broker.broker`).
A :class:`Transport` moves them through something shared instead (a database queue, as
:class:`arvo_concurrent.postgres.PostgresTransport` does), so that several processes
serve one stream of events. The pools, middleware, retries and ``resolve`` stay the
broker's; a transport only decides where a pool's events come from:

* ``publish`` from outside the handlers goes to :meth:`Transport.send` instead of a pool;
* the transport feeds each topic's :class:`~arvo_concurrent.broker.delivery.Subscription`
  :class:`~arvo_concurrent.broker.delivery.Delivery` items itself
  (``subscription.submit``), each with a ``publish`` of its own that collects what the
  handler publishes, and settles the event when the delivery releases its lineage;
* ``close`` stops the transport's intake first, gives the events claimed but not
  started back (:meth:`Transport.take_back`), and closes it last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from arvo_concurrent.broker.broker import ConcurrentEventBroker
    from arvo_concurrent.broker.delivery import Delivery, Handler, Subscription
    from arvo_concurrent.broker.tracking import Lineage

__all__ = ["Transport"]


class Transport(Protocol):
    """What a broker asks of a transport. Every method is called by the broker only."""

    def attach(self, broker: ConcurrentEventBroker) -> None:
        """Serve ``broker`` (once, from its constructor); start intake threads."""
        ...

    def wrap(self, fn: Handler) -> Handler:
        """The handler to run for a subscription of ``fn`` (``fn`` itself, or a wrapper)."""
        ...

    def subscribed(self, topic: str, subscription: Subscription) -> None:
        """Feed ``subscription`` (the topic's pool) :class:`Delivery` items from now on."""
        ...

    def unsubscribed(self, topic: str) -> None:
        """Stop feeding ``topic``; the events it holds go back to the queue."""
        ...

    def send(self, event: Any, lineage: Lineage) -> None:
        """Publish ``event`` from outside the handlers, counted in ``lineage[1:]``.

        The trackers after the broker's own are told when the event and everything it
        caused are done, wherever that ran; may block for one round trip; raises on a
        failure to publish.
        """
        ...

    def take_back(self, item: Delivery) -> bool:
        """Return an event claimed but not started to the shared queue; False: not ours."""
        ...

    def stop(self) -> None:
        """Stop claiming (``close`` starts); running events still settle."""
        ...

    def close(self, deadline: float | None) -> None:
        """Release everything (after the pools ended), by ``deadline`` (monotonic)."""
        ...
