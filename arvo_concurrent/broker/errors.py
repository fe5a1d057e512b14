"""The errors of the concurrent event broker.

Each carries what it is about (the event, the topic) as attributes, and derives from
:class:`~arvo_concurrent.errors.ArvoConcurrentError` and the closest standard exception.

Raised in the caller: :class:`SubscriptionError` and :class:`SubscriptionConflictError`
(``subscribe``), :class:`InvalidEventError` (``publish``, ``resolve``),
:class:`IdleTimeoutError` and :class:`WaitInHandlerError` (``wait_for_idle``),
:class:`ResolveTimeoutError` (``resolve``). Handed to ``on_error(error, event)``
instead: :class:`RoutingError`, :class:`EventDroppedError`,
:class:`DomainedEventError` and :class:`HandlerAbortedError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from arvo_concurrent.errors import ArvoConcurrentError

__all__ = [
    "DomainedEventError",
    "DropReason",
    "EventDroppedError",
    "HandlerAbortedError",
    "IdleTimeoutError",
    "InvalidEventError",
    "ResolveTimeoutError",
    "RoutingError",
    "SubscriptionConflictError",
    "SubscriptionError",
    "WaitInHandlerError",
]


class SubscriptionError(ArvoConcurrentError, ValueError):
    """A ``subscribe`` argument is invalid.

    Attributes:
        topic: the topic of the subscription.
    """

    def __init__(self, message: str, topic: object) -> None:
        super().__init__(message)
        self.topic = topic


class SubscriptionConflictError(SubscriptionError):
    """A handler is already subscribed to the topic."""

    def __init__(self, topic: str) -> None:
        super().__init__(
            f"Subscription conflict: A handler is already registered for topic '{topic}'.\n"
            "Only one handler can subscribe to a topic; unsubscribe the existing one first.",
            topic,
        )


_FIELD_PURPOSES = {
    "to": "the broker routes by 'to'",
    "source": "resolve returns the last event routed back to the 'source'",
}


class InvalidEventError(ArvoConcurrentError, ValueError):
    """An event lacks a field the call needs; raised in the caller.

    ``publish`` needs a string ``to``; ``resolve`` also needs a string ``source``.

    Attributes:
        event: the event.
        field: the missing or invalid field, ``"to"`` or ``"source"``.
    """

    def __init__(self, event: Any, field: Literal["to", "source"] = "to") -> None:
        value = getattr(event, field, None)
        reason = (
            f"Missing required '{field}' field"
            if not value
            else f"the '{field}' field must be a string, got {type(value).__name__} {value!r}"
        )
        super().__init__(f"Invalid event: {reason}; {_FIELD_PURPOSES[field]}. Event: {event!r}")
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


DropReason = Literal["unsubscribed", "cleared", "closed"]

_DROP_CAUSES: dict[str, str] = {
    "unsubscribed": "its topic was unsubscribed",
    "cleared": "the broker was cleared",
    "closed": "the broker was closed",
}


class EventDroppedError(ArvoConcurrentError, RuntimeError):
    """A waiting event was dropped before it ran; reported to ``on_error``.

    Attributes:
        event: the event.
        topic: the topic it was waiting on.
        reason: ``"unsubscribed"``, ``"cleared"`` or ``"closed"``.
    """

    def __init__(self, event: Any, topic: str, reason: DropReason) -> None:
        super().__init__(
            f"Event dropped: it was waiting on topic '{topic}' when {_DROP_CAUSES[reason]}"
        )
        self.event = event
        self.topic = topic
        self.reason = reason


class IdleTimeoutError(ArvoConcurrentError, TimeoutError):
    """``wait_for_idle`` timed out.

    Attributes:
        timeout: the timeout, in seconds.
        in_flight: how many events were still in flight.
    """

    def __init__(self, timeout: float, in_flight: int) -> None:
        super().__init__(
            f"wait_for_idle timed out after {timeout} s with {in_flight} event(s) in flight"
        )
        self.timeout = timeout
        self.in_flight = in_flight


class ResolveTimeoutError(ArvoConcurrentError, TimeoutError):
    """``resolve(event, timeout=...)`` timed out; the event's work goes on.

    Attributes:
        event: the event being resolved.
        timeout: the timeout, in seconds.
        in_flight: how many events of its lineage were still in flight.
    """

    def __init__(self, event: Any, timeout: float, in_flight: int) -> None:
        super().__init__(
            f"resolve timed out after {timeout} s with {in_flight} event(s) of its "
            f"lineage in flight. Event: {event!r}"
        )
        self.event = event
        self.timeout = timeout
        self.in_flight = in_flight


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


class WaitInHandlerError(ArvoConcurrentError, RuntimeError):
    """``wait_for_idle`` was called from a handler of the same broker; raised there.

    The handler's own event counts as in flight until the handler returns, so the
    wait could never end.

    Attributes:
        topic: the topic of the calling handler.
    """

    def __init__(self, topic: str) -> None:
        super().__init__(
            f"wait_for_idle called from the handler of topic '{topic}' of the same broker: "
            "its own event keeps the broker busy until it returns, so the wait would never "
            "end. Wait from outside the handlers, or let the handler publish and return."
        )
        self.topic = topic
