"""Dead letters: events whose retries were spent, kept in the queue with status ``dead``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

__all__ = ["DeadLetter"]


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A dead event as :meth:`PostgresTransport.dead_letters` lists it.

    Attributes:
        id: the queue row's id (what :meth:`PostgresTransport.requeue` takes).
        topic: the handler it was for.
        event: the event (decoded; the stored JSON text when it does not decode).
        attempts: how many times it ran.
        error: the last error, as ``"ClassName: message"``.
        created_at: when it was published; updated_at: when it died.
    """

    id: int
    topic: str
    event: Any
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
