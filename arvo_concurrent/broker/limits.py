"""The two bounds of a handler's pool, ``prefetch`` and ``max_queued``, each checked here only.

``ConcurrentEventBroker.subscribe`` checks them for every subscription, and a handler
entry of ``create_concurrent_event_broker`` is checked with the same functions when it
is made, so a bad value fails with the same error (:class:`SubscriptionError`, a
ValueError) before anything is subscribed.
"""

from __future__ import annotations

from arvo_concurrent.broker.errors import SubscriptionError

__all__ = ["check_max_queued", "check_prefetch"]


def _where(topic: str | None) -> str:
    return "" if topic is None else f" (topic '{topic}')"


def check_prefetch(prefetch: object, topic: str | None) -> int:
    """``prefetch``, once checked to be a positive int.

    Raises:
        SubscriptionError: naming the value and the topic (None: not known yet).
    """
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
        raise SubscriptionError(
            f"prefetch must be a positive integer, got {prefetch!r}{_where(topic)}",
            topic,
            "prefetch",
            prefetch,
        )
    return prefetch


def check_max_queued(max_queued: object, topic: str | None) -> int | None:
    """``max_queued``, once checked to be None or an int >= 0.

    Raises:
        SubscriptionError: naming the value and the topic (None: not known yet).
    """
    if max_queued is not None and (
        isinstance(max_queued, bool) or not isinstance(max_queued, int) or max_queued < 0
    ):
        raise SubscriptionError(
            f"max_queued must be None or an integer >= 0, got {max_queued!r}{_where(topic)}",
            topic,
            "max_queued",
            max_queued,
        )
    return max_queued
