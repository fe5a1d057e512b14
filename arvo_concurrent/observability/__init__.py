"""Observability: OpenTelemetry traces and metrics, and the event fields of log records.

``Telemetry`` needs the ``otel`` extra (``pip install 'arvo-concurrent[otel]'``: the
OpenTelemetry API only); importing this package does not import OpenTelemetry, making a
``Telemetry`` does (:class:`~arvo_concurrent.errors.MissingExtraError` when it is
missing). Give it to ``create_concurrent_event_broker(..., telemetry=Telemetry())``.

Logging needs nothing: every record the library writes about an event carries the
``extra=`` fields of :data:`EVENT_LOG_FIELDS` (see :func:`event_log_fields`), on the
logger tree under ``arvo_concurrent`` (:data:`LOGGERS`).
"""

from __future__ import annotations

from arvo_concurrent.observability.active import active_telemetry
from arvo_concurrent.observability.logfields import EVENT_LOG_FIELDS, event_log_fields
from arvo_concurrent.observability.telemetry import INSTRUMENTATION_SCOPE, Telemetry

__all__ = [
    "EVENT_LOG_FIELDS",
    "INSTRUMENTATION_SCOPE",
    "LOGGERS",
    "Telemetry",
    "active_telemetry",
    "event_log_fields",
]

LOGGERS = {
    "arvo_concurrent": "the root: a NullHandler; every logger below propagates to it",
    "arvo_concurrent.broker": "routing, handler pipelines, retries, failures of events",
    "arvo_concurrent.arvo": "handlers, orchestrators and resumables: steps, locks, failures",
    "arvo_concurrent.memory": "the in-process machine memory and its actor",
    "arvo_concurrent.postgres": "the PostgreSQL machine memory (the postgres extra)",
    "arvo_concurrent.actors": "worker pools, the router, the scheduler, actor lifecycles",
    "arvo_concurrent.observability": "telemetry: a broker made with one that records nothing",
}
"""The documented logger tree: each logger and what it logs (modules log to children)."""
