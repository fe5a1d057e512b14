"""Which :class:`~arvo_concurrent.observability.Telemetry` traces the running handler.

The broker sets it around each handler run it traces, so code deep inside a handler
(the orchestration wrapper's lock wait) can open a child span without being handed the
telemetry. Outside a traced run it is None: one ``ContextVar.get`` is all an untraced
caller pays. Context variables are per thread (and per task), so pool workers never see
each other's.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arvo_concurrent.observability.telemetry import Telemetry

__all__ = ["active_telemetry", "running_telemetry"]

running_telemetry: ContextVar[Telemetry | None] = ContextVar(
    "arvo_concurrent_telemetry", default=None
)


def active_telemetry() -> Telemetry | None:
    """The telemetry of the handler run on this thread, or None."""
    return running_telemetry.get()
