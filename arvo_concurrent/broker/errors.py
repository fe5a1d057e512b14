"""The errors of the concurrent event broker.

Each carries what it is about (the event, the topic) as attributes, and derives from
:class:`~arvo_concurrent.errors.ArvoConcurrentError` and the closest standard exception.

Raised in the caller: :class:`SubscriptionError` and :class:`SubscriptionConflictError`
(``subscribe``), :class:`InvalidEventError` (``publish``, ``resolve``),
:class:`QueueFullError` (``publish``), :class:`IdleTimeoutError` and
:class:`WaitInHandlerError` (``wait_for_idle``, ``resolve``), :class:`ResolveTimeoutError`
and :class:`ResolveError` (``resolve``). Handed to ``on_error(error, event)`` instead
(and recorded on the ``resolve`` whose lineage the event belongs to):
:class:`RoutingError`, :class:`EventDroppedError`, :class:`HopLimitError`,
:class:`DomainedEventError` and :class:`HandlerAbortedError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from arvo_concurrent.errors import ArgumentError, ArvoConcurrentError, WaitTimeoutError

ErrorRecord = tuple[Exception, Any]
"""An error reported for an event, and that event: what ``on_error`` is called with."""

BrokerErrorHandler = Callable[[Exception, Any], object]
"""``fn(error, event)``: told about every event that failed for good or could not run.

The broker's ``on_error`` and ``create_concurrent_event_broker``'s ``on_broker_error``;
its return value is ignored.
"""

__all__ = [
    "BrokerErrorHandler",
    "DomainedEventError",
    "DropReason",
    "ErrorRecord",
    "EventDroppedError",
    "HandlerAbortedError",
    "HopLimitError",
    "IdleTimeoutError",
    "InvalidEventError",
    "QueueFullError",
    "ResolveError",
    "ResolveTimeoutError",
    "RoutingError",
    "SubscriptionConflictError",
    "SubscriptionError",
    "WaitInHandlerError",
]


class SubscriptionError(ArgumentError):
    """A ``subscribe`` argument (or a handler entry's) is invalid; a ValueError.

    Attributes:
        topic: the topic of the subscription (None when not known yet).
        name: the argument that is wrong (``"topic"``, ``"prefetch"``...).
        value: its value.
    """

    def __init__(self, message: str, topic: object, name: str, value: object) -> None:
        super().__init__(message, name, value)
        self.topic = topic


class SubscriptionConflictError(SubscriptionError):
    """A handler is already subscribed to the topic."""

    def __init__(self, topic: str) -> None:
        super().__init__(
            f"Subscription conflict: A handler is already registered for topic '{topic}'.\n"
            "Only one handler can subscribe to a topic; unsubscribe the existing one first.",
            topic,
            "topic",
            topic,
        )


_FIELD_PURPOSES = {
    "to": "the broker routes by 'to'",
    "source": "resolve returns the last event routed back to the 'source'",
}


class InvalidEventError(ArvoConcurrentError, ValueError):
    """An event lacks a field the call needs; raised in the caller.

    ``publish`` needs a string ``to``; ``resolve`` also needs a string ``source`` that
    is none of the broker's topics (``problem`` then says so).

    Attributes:
        event: the event.
        field: the missing or invalid field, ``"to"`` or ``"source"``.
    """

    def __init__(
        self, event: Any, field: Literal["to", "source"] = "to", problem: str | None = None
    ) -> None:
        value = getattr(event, field, None)
        reason = (
            f"Missing required '{field}' field"
            if not value
            else f"the '{field}' field must be a string, got {type(value).__name__} {value!r}"
        )
        super().__init__(
            f"Invalid event: {problem or reason}; {_FIELD_PURPOSES[field]}. Event: {event!r}"
        )
        self.event = event
        self.field = field


class RoutingError(ArvoConcurrentError, LookupError):
    """No handler is subscribed to the event's ``to``; reported to ``on_error``.

    Attributes:
        event: the event.
        topic: its ``to``.
        available: the subscribed topics when it was routed.
    """

    def __init__(self, event: Any, topic: str, available: Sequence[str]) -> None:
        listed = f"[{', '.join(available)}]" if available else "none"
        super().__init__(
            f"Routing failed: No handler registered for topic '{topic}'. "
            f"Available topics: {listed}. Register a handler for this topic before publishing."
        )
        self.event = event
        self.topic = topic
        self.available = tuple(available)


DropReason = Literal["unsubscribed", "cleared", "closed", "abandoned"]

_DROP_CAUSES: dict[str, str] = {
    "unsubscribed": "its topic was unsubscribed",
    "cleared": "the broker was cleared",
    "closed": "the broker was closed",
    "abandoned": "the resolve it belongs to timed out or was cancelled",
}


class EventDroppedError(ArvoConcurrentError, RuntimeError):
    """An event was dropped before it ran; reported to ``on_error``.

    Attributes:
        event: the event.
        topic: the topic it was waiting on.
        reason: ``"unsubscribed"``, ``"cleared"``, ``"closed"`` or ``"abandoned"``
            (its ``resolve`` timed out, or its ``resolve_async`` future was cancelled).
    """

    def __init__(self, event: Any, topic: str, reason: DropReason) -> None:
        super().__init__(
            f"Event dropped: it was on its way to topic '{topic}' when {_DROP_CAUSES[reason]}"
            if reason == "abandoned"
            else f"Event dropped: it was waiting on topic '{topic}' when {_DROP_CAUSES[reason]}"
        )
        self.event = event
        self.topic = topic
        self.reason = reason


class IdleTimeoutError(WaitTimeoutError):
    """``wait_for_idle`` timed out.

    Attributes:
        timeout: the timeout, in seconds.
        in_flight: how many events were still in flight.
    """

    def __init__(self, timeout: float, in_flight: int) -> None:
        super().__init__(
            f"wait_for_idle timed out after {timeout} s with {in_flight} event(s) in flight",
            timeout,
        )
        self.in_flight = in_flight


class ResolveTimeoutError(WaitTimeoutError):
    """``resolve(event, timeout=...)`` timed out; its lineage is abandoned.

    The events of the lineage that are still waiting are dropped (each reported as an
    :class:`EventDroppedError` with reason ``"abandoned"``) and those it would publish
    are not routed; the ones running finish.

    Attributes:
        event: the event being resolved.
        timeout: the timeout, in seconds.
        in_flight: how many events of its lineage were still in flight.
        errors: the ``(error, event)`` pairs reported for its lineage so far.
    """

    def __init__(
        self, event: Any, timeout: float, in_flight: int, errors: Sequence[ErrorRecord] = ()
    ) -> None:
        super().__init__(
            f"resolve timed out after {timeout} s with {in_flight} event(s) of its "
            f"lineage in flight and {len(errors)} error(s) reported. Event: {event!r}",
            timeout,
        )
        self.event = event
        self.in_flight = in_flight
        self.errors = tuple(errors)


def _describe(event: Any) -> str:
    return f"type={getattr(event, 'type', None)!r} id={getattr(event, 'id', None)!r}"


class ResolveError(ArvoConcurrentError, RuntimeError):
    """``resolve`` ended without a final event: nothing came back to the event's source.

    Raised by ``resolve`` (and set on a ``resolve_async`` future) once every event of
    the lineage is done, unless ``missing="none"`` asked for None instead. The first
    recorded error is also the ``__cause__``.

    Attributes:
        event: the event being resolved.
        errors: every ``(error, event)`` pair reported for an event of its lineage, in
            report order; empty when the lineage simply ended ("no final event").
    """

    def __init__(self, event: Any, errors: Sequence[ErrorRecord]) -> None:
        self.event = event
        self.errors = tuple(errors)
        source = getattr(event, "source", None)
        if not self.errors:
            super().__init__(
                f"resolve got no final event: the lineage of {_describe(event)} ended "
                f"without an error and without any event routed back to {source!r}. "
                "Pass missing='none' to get None instead."
            )
            return
        first, about = self.errors[0]
        super().__init__(
            f"resolve got no final event for {_describe(event)}: {len(self.errors)} "
            f"error(s) reported in its lineage; the first: {type(first).__name__}: {first} "
            f"(event {_describe(about)})"
        )
        self.__cause__ = first


class HopLimitError(ArvoConcurrentError, RuntimeError):
    """A lineage published more events than the broker's ``max_hops``; reported to ``on_error``.

    The event is not routed. A lineage is an event published from outside the handlers
    and everything its handlers publish, transitively; a handler that emits to itself
    without end is stopped here.

    Attributes:
        event: the event that was not routed.
        limit: the broker's ``max_hops``.
    """

    def __init__(self, event: Any, limit: int) -> None:
        super().__init__(
            f"Hop limit reached: the lineage of this event already published {limit} "
            f"events (max_hops={limit}); it is not routed. A handler that emits to "
            f"itself? Event {_describe(event)} to={getattr(event, 'to', None)!r}"
        )
        self.event = event
        self.limit = limit


class QueueFullError(ArvoConcurrentError, RuntimeError):
    """``publish`` found the handler's waiting queue full (``max_queued``); raised there.

    Nothing was queued. Raised in the publishing thread: a handler publishing through
    its ``publish`` gets it as an error of its event (an Arvo handler's output is
    reported to ``on_broker_error``); an outside caller may back off and publish again.

    Attributes:
        event: the event that was refused.
        topic: the handler's topic.
        max_queued: the handler's waiting-queue bound.
    """

    def __init__(self, event: Any, topic: str, max_queued: int) -> None:
        super().__init__(
            f"Queue full: topic '{topic}' already has {max_queued} event(s) waiting "
            f"(max_queued={max_queued}); event {_describe(event)} was not queued"
        )
        self.event = event
        self.topic = topic
        self.max_queued = max_queued


class DomainedEventError(ArvoConcurrentError, RuntimeError):
    """An event with a ``domain`` could not be handed to its external destination.

    Attributes:
        event: the event.
        domain: its ``domain`` (None if it has none).
        reason: why it was not delivered.
    """

    def __init__(self, event: Any, reason: str) -> None:
        self.domain = getattr(event, "domain", None)
        super().__init__(
            f"Domained event not delivered (domain {self.domain!r}): {reason}. Event: {event!r}"
        )
        self.event = event
        self.reason = reason


class HandlerAbortedError(ArvoConcurrentError, RuntimeError):
    """User code on a pool worker raised a ``BaseException`` that is not an ``Exception``.

    ``asyncio.CancelledError``, ``SystemExit``, ``KeyboardInterrupt`` or a custom
    ``BaseException``: the worker catches it, reports this error to ``on_error`` with
    the event, and keeps serving. Escaping the worker it would have made Pykka stop
    every actor in the process (``ActorRegistry.stop_all()``), the host's included.

    Attributes:
        event: the event being handled.
        error: the ``BaseException`` (also this error's ``__cause__``).
    """

    def __init__(self, error: BaseException, event: Any) -> None:
        super().__init__(
            f"Handler aborted by {error!r}, a BaseException that is "
            f"not an Exception: caught on the worker and not retried. Event: {event!r}"
        )
        self.__cause__ = error
        self.error = error
        self.event = event


_WAIT_PROBLEMS = {
    "wait_for_idle": (
        "its own event keeps the broker busy until it returns, so the wait would never end. "
        "Wait from outside the handlers, or let the handler publish and return."
    ),
    "resolve": (
        "every slot of that handler (its prefetch) is taken, this call's included, so an "
        "event of the lineage routed back to it could only run once this handler returns "
        "and the wait might never end. Use resolve_async, raise the handler's prefetch, "
        "or let the handler publish and return."
    ),
}


class WaitInHandlerError(ArvoConcurrentError, RuntimeError):
    """A blocking wait was called from a handler of the same broker; raised there.

    ``wait_for_idle`` always: the handler's own event counts as in flight until the
    handler returns. ``resolve`` when the calling handler has no free slot (prefetch 1,
    or every other slot busy): an event of its lineage that comes back to this handler
    would wait for the very worker that waits for it. Nothing was published.

    Attributes:
        topic: the topic of the calling handler.
        operation: ``"wait_for_idle"`` or ``"resolve"``.
    """

    def __init__(
        self, topic: str, operation: Literal["wait_for_idle", "resolve"] = "wait_for_idle"
    ) -> None:
        super().__init__(
            f"{operation} called from the handler of topic '{topic}' of the same broker: "
            f"{_WAIT_PROBLEMS[operation]}"
        )
        self.topic = topic
        self.operation = operation
