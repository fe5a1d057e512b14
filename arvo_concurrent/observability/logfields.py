"""The ``extra=`` fields of every log record the library writes about an event.

Each such record carries the same five attributes, so a log pipeline can index them
(a JSON formatter picks them up from the record; ``%(event_id)s`` works in a format
string): ``event_id``, ``event_type``, ``event_subject``, ``topic`` (the handler's
topic, else the event's ``to``) and ``attempt`` (on the records of a handler's failure
or suppression, how many executions it had; None on the others). Values the event
lacks are None, so a formatter may always name them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["EVENT_LOG_FIELDS", "event_log_fields", "reporting_attempts"]

_attempts: ContextVar[int | None] = ContextVar("arvo_concurrent_attempts", default=None)

EVENT_LOG_FIELDS = ("event_id", "event_type", "event_subject", "topic", "attempt")
"""The names of the ``extra=`` fields, in the order :func:`event_log_fields` fills them."""


def event_log_fields(
    event: Any, *, topic: str | None = None, attempt: int | None = None
) -> dict[str, Any]:
    """The ``extra=`` mapping for a log record about ``event`` (any object; duck-typed).

    Args:
        event: the event the record is about.
        topic: the handler topic it ran on (default: the event's ``to``).
        attempt: the execution attempt the record is about (default: the one of the
            failure being reported on this thread, if any).
    """
    return {
        "event_id": getattr(event, "id", None),
        "event_type": getattr(event, "type", None),
        "event_subject": getattr(event, "subject", None),
        "topic": topic if topic is not None else getattr(event, "to", None),
        "attempt": attempt if attempt is not None else _attempts.get(),
    }


@contextmanager
def reporting_attempts(attempts: int) -> Iterator[None]:
    """While a failure after ``attempts`` executions is reported on this thread.

    The broker reports synchronously, so the records its default reporter writes for
    that failure carry ``attempt`` without it being passed through every layer.
    """
    token = _attempts.set(attempts)
    try:
        yield
    finally:
        _attempts.reset(token)
