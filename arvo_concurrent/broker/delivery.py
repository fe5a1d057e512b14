"""The unit of work on the event's way: a :class:`Delivery`, run by its topic's pool.

``publish`` routes an event to the :class:`Subscription` of its ``to`` (a
:class:`~arvo_concurrent.actors.pool.HandlerPool` that knows its handler) and submits a
:class:`Delivery` to it; a pool worker then calls :meth:`Delivery.run` (the handler,
with the ``publish`` of the event's lineage) and, once the pool no longer counts it,
:meth:`Delivery.settle` (the lineage's count released). A transport submits its own
deliveries the same way. Everything the pool runs is here, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from arvo_concurrent.actors.pool import HandlerPool
from arvo_concurrent.broker.errors import EventDroppedError, HandlerAbortedError
from arvo_concurrent.broker.tracking import Lineage, release

if TYPE_CHECKING:
    from arvo_concurrent.broker.broker import ConcurrentEventBroker

__all__ = ["Delivery", "Handler", "LineagePublisher", "Publish", "Subscription"]


class Publish(Protocol):
    """The ``publish`` a handler receives: publishes in the lineage of the handled event."""

    def __call__(self, event: Any) -> None:
        """Publish ``event``; raises as :meth:`ConcurrentEventBroker.publish` does."""
        ...


Handler = Callable[[Any, Publish], object]
"""``fn(event, publish)``: a subscription's handler; its return value is ignored."""


class LineagePublisher(msgspec.Struct, frozen=True):
    """Publishes events in one lineage: the ``publish`` a handler receives.

    Made by :meth:`ConcurrentEventBroker.publisher_for` when a lineage's first event
    runs, and shared by all the others, so a hop allocates nothing and a waiting event
    holds nothing more than its lineage (a Struct: made in C, on the hot path).
    Thread-safe; calling it is :meth:`ConcurrentEventBroker.publish_hop`: it behaves as
    ``publish`` (same errors) with the trackers of :attr:`lineage`, and counts one hop
    against the broker's ``max_hops``.

    Attributes:
        broker: the broker it publishes on.
        lineage: the trackers every event published here counts in, the broker's own
            among them.
        hops: numbers the lineage's events after its first (hop 0): 1, 2... (``next``
            on this C-level counter is atomic).
    """

    broker: ConcurrentEventBroker
    lineage: Lineage
    hops: Iterator[int]

    def __call__(self, event: Any) -> None:
        """Publish ``event`` in :attr:`lineage`."""
        self.broker.publish_hop(event, self)


class Subscription(HandlerPool):
    """The pool of one subscribed topic, with the handler its deliveries run.

    What the broker's route table holds for a topic; a transport feeds it
    :class:`Delivery` items too. Thread-safe as a :class:`HandlerPool` is.

    Args:
        broker: the broker that reports the handler's failures and makes publishers.
        handler: ``fn(event, publish)``, run on the pool's workers.
        topic, prefetch, max_queued: as for :class:`HandlerPool`.
    """

    def __init__(
        self,
        broker: ConcurrentEventBroker,
        handler: Handler,
        topic: str,
        prefetch: int,
        max_queued: int | None = None,
    ) -> None:
        super().__init__(topic, prefetch, max_queued=max_queued)
        self.broker = broker
        self.handler = handler


class Delivery(msgspec.Struct, frozen=True):
    """An event on its way to a handler, with the trackers it counts in: a pool's work.

    Attributes:
        event: the event to handle.
        lineage: the trackers it counts in; its count was added before it was submitted.
        publish: the lineage's publisher; None for the lineage's first event (its run
            makes it); a transport gives each of its events a publisher of its own.
        subscription: the pool it is submitted to, which knows the handler to run.
        queued_at: when it was routed (``time.perf_counter()``), kept only for a broker
            with telemetry (its ``arvo.queue.wait``); 0 otherwise.
    """

    event: Any
    lineage: Lineage
    publish: Publish | None
    subscription: Subscription
    queued_at: float = 0.0

    def run(self) -> None:
        """Run the handler on the event, on the pool worker; never raises.

        An event of an abandoned lineage is dropped instead (reported as an
        :class:`EventDroppedError`); what the handler raises is reported on the lineage
        (a ``BaseException`` as a :class:`HandlerAbortedError`).
        """
        event, lineage, subscription = self.event, self.lineage, self.subscription
        broker = subscription.broker
        if len(lineage) > 1:  # the broker's own tracker, alone, is never abandoned
            for tracker in lineage:
                if tracker.abandoned:
                    broker.report(EventDroppedError(event, event.to, "abandoned"), event, lineage)
                    return
        publish = self.publish or broker.publisher_for(lineage)
        telemetry = broker.telemetry
        try:
            if telemetry is None:
                subscription.handler(event, publish)
            else:  # a CONSUMER span, parented from the event's traceparent
                telemetry.consume(event, self.queued_at, subscription.handler, publish)
        except Exception as error:  # noqa: BLE001 - user code: reported, never fatal
            broker.report(error, event, lineage)
        except BaseException as error:  # noqa: BLE001 - escaping, it would stop every actor
            broker.report(HandlerAbortedError(error, event), event, lineage)

    def settle(self) -> None:
        """Release the event's count, once the pool no longer counts it as running.

        So a lineage that looks idle has idle pools; the lineage's trackers may wake
        their waiters here (a transport's claim settles in the database).
        """
        release(self.lineage)
