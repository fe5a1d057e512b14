"""Span and metric attribute names: OpenTelemetry messaging and CloudEvents conventions.

Spans carry the messaging attributes (``messaging.system``, ``messaging.operation``,
``messaging.destination.name``, ``messaging.message.id``) and the CloudEvents ones
(``cloudevents.event_id``, ``cloudevents.event_source``, ``cloudevents.event_type``,
``cloudevents.event_subject``) and Arvo's ``arvo.event.parentid`` / ``arvo.event.domain``
when set; metrics carry only the
bounded ones (system and destination), never an id or a subject.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ATTEMPT",
    "DESTINATION",
    "DROP_REASON",
    "ERROR_TYPE",
    "LOCK_ACQUIRED",
    "LOCK_WAIT_MS",
    "MESSAGING_SYSTEM",
    "SYSTEM",
    "event_attributes",
]

SYSTEM = "arvo"
"""The value of ``messaging.system`` on every span and metric."""

MESSAGING_SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
ERROR_TYPE = "error.type"
ATTEMPT = "arvo.attempt"
DROP_REASON = "arvo.drop.reason"
LOCK_WAIT_MS = "arvo.lock.wait_ms"
LOCK_ACQUIRED = "arvo.lock.acquired"

# The legacy and the current semconv names of the operation: publish/process, send/process.
_OPERATION_TYPES = {"publish": "send", "process": "process"}


def event_attributes(event: Any, destination: str, operation: str) -> dict[str, Any]:
    """The span attributes for ``operation`` on ``event`` (duck-typed) at ``destination``."""
    attributes: dict[str, Any] = {
        MESSAGING_SYSTEM: SYSTEM,
        "messaging.operation": operation,
        "messaging.operation.type": _OPERATION_TYPES[operation],
        DESTINATION: destination,
    }
    for key, field in _EVENT_FIELDS:
        value = getattr(event, field, None)
        if isinstance(value, str):
            attributes[key] = value
    return attributes


_EVENT_FIELDS = (
    ("messaging.message.id", "id"),
    ("cloudevents.event_id", "id"),
    ("cloudevents.event_source", "source"),
    ("cloudevents.event_type", "type"),
    ("cloudevents.event_subject", "subject"),
    ("arvo.event.parentid", "parentid"),
    ("arvo.event.domain", "domain"),
)
