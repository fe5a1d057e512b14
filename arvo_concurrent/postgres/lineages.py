"""The lineages resolved from this process, and how their end reaches the resolver.

A ``resolve`` publishes its event with a lineage id and a row of ``queue_lineage``
counting the lineage's events not yet settled. The settling that brings the count to
zero NOTIFYs ``l:<id>``; the resolving process then reads the row (the final event and
the errors reported for the lineage, in any process), hands them to its trackers and
releases them. The rows read are deleted later, in batches, so a resolve waits for no
commit of its own. A resolve that gives up (:meth:`Lineages.forsake`) is no longer
waited for; the transport marks its row abandoned for the other processes. Every
method is thread-safe; only the ones that take a ``run`` statement runner block, for
one round trip.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.broker.errors import BrokerErrorHandler, EventDroppedError
from arvo_concurrent.broker.tracking import WorkTracker
from arvo_concurrent.postgres.claims import encode_event
from arvo_concurrent.postgres.errors import RemoteHandlerError
from arvo_concurrent.postgres.queue_statements import QueueStatements

__all__ = ["Lineages", "decode_or_none", "encode_errors"]

Run = Callable[[str, Any, Mapping[str, Any]], list[tuple[Any, ...]]]


class _Waiting:
    """A lineage published from this process, waited for by its trackers."""

    __slots__ = ("event", "trackers")

    def __init__(self, event: Any, trackers: Sequence[WorkTracker]) -> None:
        self.event = event
        self.trackers = trackers


class Lineages:
    """The lineages this process waits for.

    Args:
        statements: the queue's statements (``collect`` and ``forget`` are used).
        report: where a capture callback's error goes (the broker's report).
    """

    def __init__(self, statements: QueueStatements, report: BrokerErrorHandler) -> None:
        self._sql = statements
        self._report = report
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiting] = {}
        self._collected: list[str] = []  # rows read, to delete

    def open(self, event: Any, trackers: Sequence[WorkTracker]) -> str | None:
        """A new lineage id for ``event``, counted once in each tracker (None: no trackers)."""
        if not trackers:
            return None
        lineage_id = secrets.token_hex(12)
        for tracker in trackers:
            tracker.add()
        with self._lock:
            self._waiting[lineage_id] = _Waiting(event, trackers)
        return lineage_id

    def cancel(self, lineage_id: str) -> None:
        """Stop waiting for ``lineage_id`` (its publish failed): release its trackers."""
        with self._lock:
            waiter = self._waiting.pop(lineage_id, None)
        if waiter is not None:
            for tracker in waiter.trackers:
                tracker.done()

    def waits_for(self, lineage_id: str) -> bool:
        """Whether this process waits for ``lineage_id``."""
        with self._lock:
            return lineage_id in self._waiting

    def waiting(self) -> list[str]:
        """The ids still waited for."""
        with self._lock:
            return list(self._waiting)

    def forsake(self, lineage_id: str) -> None:
        """A tracker of ``lineage_id`` was abandoned: stop waiting for the lineage.

        Nobody waits for the abandoned trackers any more; any other one is released,
        recording why (an :class:`EventDroppedError`, reason ``"abandoned"``), as the
        in-process broker's trackers are when the lineage's events are dropped. Never blocks.
        """
        with self._lock:
            waiter = self._waiting.pop(lineage_id, None)
        if waiter is None:
            return
        error = EventDroppedError(waiter.event, waiter.event.to, "abandoned")
        for tracker in waiter.trackers:
            if not tracker.abandoned:
                tracker.record_error(error, waiter.event)
                tracker.done()

    def collect(self, run: Run, ids: list[str]) -> None:
        """Finish the lineages among ``ids`` whose events all settled (one read)."""
        for lineage_id, final, errors in run("collect", self._sql.collect, {"ids": ids}):
            with self._lock:
                waiter = self._waiting.pop(lineage_id, None)
                if waiter is None:
                    continue  # finished already (a second notification)
                self._collected.append(lineage_id)
            self._finish(waiter, final, errors)

    def drop_collected(self, run: Run) -> None:
        """Delete the rows of the lineages collected so far (one statement)."""
        with self._lock:
            ids, self._collected = self._collected, []
        if ids:
            run("forget", self._sql.forget, {"ids": ids})

    def end_all(self) -> None:
        """At close: every lineage still waited for ends, recording why (never blocks)."""
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            error = EventDroppedError(waiter.event, waiter.event.to, "closed")
            for tracker in waiter.trackers:
                tracker.record_error(error, waiter.event)
                tracker.done()

    def _finish(self, waiter: _Waiting, final: str | None, errors: list[Any]) -> None:
        recorded = [
            RemoteHandlerError(e["type"], e["message"], decode_or_none(e["event"])) for e in errors
        ]
        final_event = decode_or_none(final)
        for tracker in waiter.trackers:
            for error in recorded:
                tracker.record_error(error, error.event)
            if final_event is not None and tracker.capture_topic == final_event.to:
                try:
                    tracker.capture(final_event)
                except Exception as failure:  # noqa: BLE001 - user code: reported
                    self._report(failure, final_event)
            tracker.done()


def encode_errors(failures: Sequence[tuple[Exception, Any]]) -> str:
    """The JSON array a lineage row keeps for ``(error, event)`` pairs."""
    return json.dumps(
        [
            {"type": type(error).__qualname__, "message": str(error), "event": _encode(about)}
            for error, about in failures
        ]
    )


def _encode(event: Any) -> str | None:
    try:
        return encode_event(event)
    except Exception:  # noqa: BLE001 - an error's event need not be an ArvoEvent
        return None


def decode_or_none(text: str | None) -> Any:
    """The ArvoEvent stored as ``text``, or None (no text, or it does not decode)."""
    if text is None:
        return None
    try:
        return ArvoEvent.from_json(text)
    except Exception:  # noqa: BLE001 - the callers keep the text or nothing
        return None
