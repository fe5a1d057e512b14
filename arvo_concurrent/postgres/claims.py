"""An event this process claimed from the queue, and the ``publish`` its handler gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arvo_concurrent.broker.errors import InvalidEventError
from arvo_concurrent.broker.tracking import Lineage, WorkTracker
from arvo_concurrent.postgres.errors import QueueEncodingError
from arvo_concurrent.postgres.outbox import Outbox

__all__ = ["Claim", "ClaimPublisher", "encode_event"]


def encode_event(event: Any) -> str:
    """The JSON the queue stores for ``event``.

    Raises:
        InvalidEventError: ``event.to`` is missing or not a string.
        QueueEncodingError: ``event`` is not an ArvoEvent (it has no ``to_json``).
    """
    to = getattr(event, "to", None)
    if not to or not isinstance(to, str):
        raise InvalidEventError(event)
    to_json = getattr(event, "to_json", None)
    if not callable(to_json):
        raise QueueEncodingError(event, "only ArvoEvents (with to_json/from_json) go through it")
    text: str = to_json()
    return text


class Claim(WorkTracker):
    """One queued event held by this process, from its claim until it settles.

    It sits in the event's lineage as a tracker, so the broker tells it what a tracker
    hears: the errors reported for the event (:meth:`record_error`) and the event's
    release once its handler returned (:meth:`done`), which settles it. It counts
    nothing itself. Used by the worker that runs the event, then by the settling.
    """

    __slots__ = (
        "attempt",
        "dropped",
        "event",
        "failures",
        "final",
        "final_text",
        "lineage_id",
        "outbox",
        "output_texts",
        "outputs",
        "reply_to",
        "retry",
        "row_id",
        "settle",
        "topic",
    )

    def __init__(
        self,
        settle: Callable[[Claim], None],
        row_id: int,
        topic: str,
        event: Any,
        *,
        attempt: int,
        lineage_id: str | None,
        reply_to: str | None,
        conninfo: str,
    ) -> None:
        # Not WorkTracker.__init__: a claim has no count, lock or waiters.
        self.capture_topic = None
        self.abandoned = False
        self.settle = settle
        self.row_id = row_id
        self.topic = topic
        self.event = event
        self.attempt = attempt
        self.lineage_id = lineage_id
        self.reply_to = reply_to
        self.outputs: list[Any] = []
        self.output_texts: list[str] = []  # their JSON, encoded once
        self.final: Any = None
        self.final_text: str | None = None
        self.failures: list[tuple[Exception, Any]] = []
        self.retry: tuple[float, Exception] | None = None
        self.dropped = False  # not run: its lineage was abandoned
        self.outbox = Outbox(conninfo)

    def add(self, n: int = 1) -> None:
        """Nothing to count: a claim is one event."""

    def done(self, n: int = 1) -> None:
        """The handler returned and the pool released the event: settle it."""
        self.settle(self)

    def record_error(self, error: Exception, event: Any) -> None:
        """Keep an error reported for this event or one of its outputs."""
        self.failures.append((error, event))

    def keep(self, event: Any) -> None:
        """Collect an event the handler published (the lineage's final one apart)."""
        text = encode_event(event)  # refused now, in the handler, as a publish would be
        if event.to == self.reply_to:
            self.final = event
            self.final_text = text
        else:
            self.outputs.append(event)
            self.output_texts.append(text)

    def __repr__(self) -> str:
        return f"Claim(row={self.row_id}, topic={self.topic!r}, attempt={self.attempt})"


class ClaimPublisher:
    """The ``publish`` a handler gets for a claimed event: collects what it publishes.

    Nothing goes out while the handler runs: the outputs are inserted when the event
    settles, in the same statement that marks it done (so an event that dies before
    that leaves no output behind). An output for a topic no process serves is refused
    at once, as the in-process broker does (``refuse`` reports it and says so); the
    lineage's final event never is. Attributes the pipeline reads: ``lineage`` (where
    errors are recorded), ``attempt`` (this delivery's attempt number) and
    ``retry_later`` (a retry goes back to the queue instead of waiting in the worker).
    """

    __slots__ = ("attempt", "claim", "lineage", "refuse")

    def __init__(
        self, claim: Claim, lineage: Lineage, refuse: Callable[[Any, Lineage], bool]
    ) -> None:
        self.claim = claim
        self.lineage = lineage
        self.attempt = claim.attempt
        self.refuse = refuse

    def __call__(self, event: Any) -> None:
        """Publish ``event`` once the handled event settles (unless its topic is unserved)."""
        if getattr(event, "to", None) != self.claim.reply_to and self.refuse(event, self.lineage):
            return
        self.claim.keep(event)

    def retry_later(self, delay_s: float, error: Exception) -> None:
        """Run the event again in ``delay_s`` seconds, in any process."""
        self.claim.retry = (delay_s, error)
