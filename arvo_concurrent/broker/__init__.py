"""The concurrent event broker: routing, per-topic handler pools, work tracking."""

from __future__ import annotations

from arvo_concurrent.broker.broker import (
    ConcurrentEventBroker,
    LineagePublisher,
    OnError,
    Publish,
)
from arvo_concurrent.broker.errors import (
    EventDroppedError,
    IdleTimeoutError,
    InvalidEventError,
    RoutingError,
    SubscriptionConflictError,
    SubscriptionError,
)
from arvo_concurrent.broker.stats import TopicStats
from arvo_concurrent.broker.tracking import WorkTracker

__all__ = [
    "ConcurrentEventBroker",
    "EventDroppedError",
    "IdleTimeoutError",
    "InvalidEventError",
    "LineagePublisher",
    "OnError",
    "Publish",
    "RoutingError",
    "SubscriptionConflictError",
    "SubscriptionError",
    "TopicStats",
    "WorkTracker",
]
