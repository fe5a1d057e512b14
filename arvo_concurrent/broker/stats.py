"""What ``ConcurrentEventBroker.get_stats`` and ``.stats`` report about a topic."""

from __future__ import annotations

import msgspec

__all__ = ["TopicStats"]


class TopicStats(msgspec.Struct, frozen=True):
    """A consistent snapshot of one subscription.

    The TypeScript broker's ``pending`` is ``running`` here, its ``size`` is ``waiting``.

    Attributes:
        topic: the subscribed topic.
        prefetch: the most events of this topic that run at once.
        running: events whose handler is running (or about to) on a worker.
        waiting: events queued behind them, in FIFO order.
        in_flight: ``running + waiting``.
        workers: worker threads started so far (at most ``prefetch``; they start lazily).
    """

    topic: str
    prefetch: int
    running: int
    waiting: int
    in_flight: int
    workers: int
