"""The concurrent event broker: routing, per-topic handler pools, work tracking.

Internal: import the public names from :mod:`arvo_concurrent`, which re-exports them
from here. The files of this package may change without notice.
"""

from __future__ import annotations

from arvo_concurrent.broker.broker import ConcurrentEventBroker
from arvo_concurrent.broker.config import HandlerConfig
from arvo_concurrent.broker.delivery import LineagePublisher, Publish
from arvo_concurrent.broker.errors import (
    BrokerErrorHandler,
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
from arvo_concurrent.broker.factory import (
    ConcurrentEventBrokerHandle,
    create_concurrent_event_broker,
)
from arvo_concurrent.broker.middleware import MiddlewareError
from arvo_concurrent.broker.pipeline import HandlerCounters
from arvo_concurrent.broker.retry import (
    ErrorDecision,
    OnErrorAnswerError,
    RetryDecider,
    RetryInfo,
)
from arvo_concurrent.broker.stats import TopicStats
from arvo_concurrent.broker.tracking import WorkTracker

__all__ = [
    "BrokerErrorHandler",
    "ConcurrentEventBroker",
    "ConcurrentEventBrokerHandle",
    "DomainedEventError",
    "ErrorDecision",
    "EventDroppedError",
    "HandlerAbortedError",
    "HandlerConfig",
    "HandlerCounters",
    "HopLimitError",
    "IdleTimeoutError",
    "InvalidEventError",
    "LineagePublisher",
    "MiddlewareError",
    "OnErrorAnswerError",
    "Publish",
    "QueueFullError",
    "ResolveError",
    "ResolveTimeoutError",
    "RetryDecider",
    "RetryInfo",
    "RoutingError",
    "SubscriptionConflictError",
    "SubscriptionError",
    "TopicStats",
    "WaitInHandlerError",
    "WorkTracker",
    "create_concurrent_event_broker",
]
