"""The concurrent event broker: routing, per-topic handler pools, work tracking."""

from __future__ import annotations

from arvo_concurrent.broker.broker import (
    ConcurrentEventBroker,
    LineagePublisher,
    OnError,
    Publish,
)
from arvo_concurrent.broker.errors import (
    DomainedEventError,
    EventDroppedError,
    HandlerAbortedError,
    HopLimitError,
    IdleTimeoutError,
    InvalidEventError,
    QueueFullError,
    ResolveError,
    ResolveTimeoutError,
    RoutingError,
    SubscriptionConflictError,
    SubscriptionError,
    WaitInHandlerError,
)
from arvo_concurrent.broker.stats import TopicStats
from arvo_concurrent.broker.tracking import WorkTracker

__all__ = [
    "ConcurrentEventBroker",
    "DomainedEventError",
    "EventDroppedError",
    "HandlerAbortedError",
    "HopLimitError",
    "IdleTimeoutError",
    "InvalidEventError",
    "LineagePublisher",
    "OnError",
    "Publish",
    "QueueFullError",
    "ResolveError",
    "ResolveTimeoutError",
    "RoutingError",
    "SubscriptionConflictError",
    "SubscriptionError",
    "TopicStats",
    "WaitInHandlerError",
    "WorkTracker",
]
