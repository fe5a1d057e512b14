"""The metric instruments of a :class:`~arvo_concurrent.observability.Telemetry`.

Every instrument is per topic (attribute ``messaging.destination.name``, plus
``messaging.system="arvo"``):

==============================  ==============  ===========================================
name                            kind            what it counts or measures
==============================  ==============  ===========================================
``arvo.events.handled``         Counter         events whose handler succeeded (outputs
                                                passed the output middleware)
``arvo.events.failed``          Counter         events given up (retries spent, THROW,
                                                closing, a middleware error); ``error.type``
``arvo.events.retried``         Counter         executions after an event's first
``arvo.events.dropped``         Counter         events dropped: ``arvo.drop.reason`` is
                                                ``suppressed`` (``on_error`` said SUPPRESS),
                                                ``unsubscribed``, ``cleared``, ``closed`` or
                                                ``abandoned``
``arvo.handler.duration``       Histogram (s)   one execution of a handler (an attempt)
``arvo.queue.wait``             Histogram (s)   from publish to the start of the event's run
``arvo.memory.lock.wait``       Histogram (s)   a workflow step's wait for its lock;
                                                ``arvo.lock.acquired``
``arvo.events.in_flight``       UpDownCounter   running + waiting events, observed on
                                (observable)    collection (as ``TopicStats.in_flight``)
``arvo.events.queued``          UpDownCounter   waiting events (``TopicStats.waiting``)
                                (observable)
==============================  ==============  ===========================================

``handled``, ``failed``, ``retried``, ``suppressed`` drops and ``arvo.handler.duration``
come from the handler pipelines of ``create_concurrent_event_broker``; a raw
``ConcurrentEventBroker.subscribe(fn)`` has no executions to count, only its spans, its
queue figures and its dropped events.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from arvo_concurrent.observability.attributes import (
    DESTINATION,
    DROP_REASON,
    ERROR_TYPE,
    LOCK_ACQUIRED,
    MESSAGING_SYSTEM,
    SYSTEM,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["Instruments"]


class Instruments:
    """The instruments of one meter, and the brokers whose queues they observe.

    Thread-safe: recording goes straight to the OpenTelemetry instruments (thread-safe
    themselves); the per-topic attribute mappings are cached once made, never changed.
    """

    def __init__(self, meter: Meter, observation: type[Observation]) -> None:
        self._observation = observation
        self._topics: dict[str, dict[str, str]] = {}
        self._brokers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.handled = meter.create_counter(
            "arvo.events.handled", "{event}", "Events whose handler succeeded"
        )
        self.failed = meter.create_counter("arvo.events.failed", "{event}", "Events given up")
        self.retried = meter.create_counter(
            "arvo.events.retried", "{execution}", "Executions after an event's first"
        )
        self.dropped = meter.create_counter(
            "arvo.events.dropped", "{event}", "Events dropped without being handled"
        )
        self.handler_duration = meter.create_histogram(
            "arvo.handler.duration", "s", "Duration of one handler execution"
        )
        self.queue_wait = meter.create_histogram(
            "arvo.queue.wait", "s", "Time from publish to the start of the event's run"
        )
        self.lock_wait = meter.create_histogram(
            "arvo.memory.lock.wait", "s", "A workflow step's wait for its lock"
        )
        meter.create_observable_up_down_counter(
            "arvo.events.in_flight", [self._observe_in_flight], "{event}", "Running + waiting"
        )
        meter.create_observable_up_down_counter(
            "arvo.events.queued", [self._observe_queued], "{event}", "Waiting events"
        )

    def topic(self, topic: str) -> dict[str, str]:
        """The attributes of ``topic`` (cached: one mapping per topic, shared)."""
        attributes = self._topics.get(topic)
        if attributes is None:
            attributes = self._topics.setdefault(
                topic, {MESSAGING_SYSTEM: SYSTEM, DESTINATION: topic}
            )
        return attributes

    def with_error(self, topic: str, error: BaseException) -> dict[str, str]:
        """The attributes of ``topic`` with ``error.type`` (the error's class name)."""
        return {**self.topic(topic), ERROR_TYPE: type(error).__qualname__}

    def dropped_from(self, topic: str, reason: str) -> None:
        """Count one event of ``topic`` dropped for ``reason``."""
        self.dropped.add(1, {**self.topic(topic), DROP_REASON: reason})

    def lock_waited(self, topic: str, seconds: float, acquired: bool) -> None:
        """Record a lock wait of a step of ``topic``'s handler."""
        self.lock_wait.record(seconds, {**self.topic(topic), LOCK_ACQUIRED: acquired})

    def observe(self, broker: Any) -> None:
        """Report ``broker``'s queues in the observable instruments while it lives."""
        with self._lock:
            self._brokers.add(broker)

    def _observe_in_flight(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observations("in_flight")

    def _observe_queued(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observations("waiting")

    def _observations(self, field: str) -> list[Observation]:
        # Brokers sharing a topic are summed: one observation per attribute set.
        with self._lock:
            brokers = list(self._brokers)
        totals: dict[str, int] = {}
        for broker in brokers:
            for stats in broker.stats:
                totals[stats.topic] = totals.get(stats.topic, 0) + getattr(stats, field)
        return [self._observation(value, self.topic(topic)) for topic, value in totals.items()]
