"""How the broker tells someone about a failure when no ``on_error`` was given, or it failed.

The package's logger has a ``NullHandler`` (a library never configures logging), so
an ERROR record alone is invisible in a program that did not set logging up. Without
an ``on_error`` the broker therefore does both:

* an ERROR record for every failure, through the ``arvo_concurrent.broker`` logger
  (with the traceback), for programs that configure logging;
* one line on ``sys.stderr`` the first time each kind of error (its class) is met by
  that broker, naming the logger where the next ones go, so a program that configured
  nothing still sees that something fails, without a flood.

An ``on_error`` that raises (a ``BaseException`` included) is reported the same way;
it never stops the broker's own work.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from typing import Any

from arvo_concurrent.broker.errors import BrokerErrorHandler, ErrorRecord
from arvo_concurrent.observability.logfields import event_log_fields

__all__ = ["LOGGER_NAME", "DefaultReporter", "delivery_thread"]

LOGGER_NAME = "arvo_concurrent.broker"
logger = logging.getLogger(LOGGER_NAME)


def _about(event: Any) -> str:
    return (
        f"type={getattr(event, 'type', None)!r} to={getattr(event, 'to', None)!r} "
        f"id={getattr(event, 'id', None)!r}"
    )


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class DefaultReporter:
    """A broker's reporter of last resort: always logged, each kind once on stderr.

    Thread-safe; never raises (a failing stderr is ignored).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def __call__(self, error: BaseException, event: Any) -> None:
        """Report a failure of ``event`` that no ``on_error`` takes."""
        logger.error(
            "Event %s failed: %s",
            _about(event),
            error,
            exc_info=error,
            extra=event_log_fields(event, topic=getattr(error, "topic", None)),
        )
        self._first_of_kind(type(error).__name__, f"{_one_line(error)} (event {_about(event)})")

    def callback_failed(self, failure: BaseException, error: BaseException, event: Any) -> None:
        """Report that ``on_error`` raised ``failure`` while told about ``error``."""
        logger.error(
            "on_error raised %r while reporting %r for event %s",
            failure,
            error,
            _about(event),
            exc_info=failure,
            extra=event_log_fields(event, topic=getattr(error, "topic", None)),
        )
        self._first_of_kind(
            f"on_error failure {type(failure).__name__}",
            f"on_error raised {_one_line(repr(failure))} while reporting "
            f"{type(error).__name__} for event {_about(event)}",
        )

    def _first_of_kind(self, kind: str, line: str) -> None:
        with self._lock:
            if kind in self._seen:
                return
            self._seen.add(kind)
        try:
            print(
                f"arvo_concurrent.broker: {line} [the next ones of this kind are only logged "
                f"to the '{LOGGER_NAME}' logger; pass on_error/on_broker_error to handle them]",
                file=sys.stderr,
                flush=True,
            )
        except Exception:  # a closed stderr must not stop the broker
            logger.debug("Could not write to stderr", exc_info=True)


def delivery_thread(
    reports: Sequence[ErrorRecord], deliver: BrokerErrorHandler
) -> threading.Thread | None:
    """A daemon thread, not started, that calls ``deliver(error, event)`` for each report.

    ``close()`` uses it so that a slow ``on_error`` cannot hold it past its deadline; it
    keeps the thread before starting it, to know it when ``on_error`` calls back.
    ``deliver`` must not raise. None when there is nothing to deliver.
    """
    if not reports:
        return None
    items = list(reports)

    def run() -> None:
        for error, event in items:
            deliver(error, event)

    return threading.Thread(target=run, name="arvo-broker-close-reports", daemon=True)
