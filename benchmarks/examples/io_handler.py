"""An I/O-bound handler to try the tuning mode on: every event waits on a remote call.

    python -m benchmarks tune --handler benchmarks.examples.io_handler:create_handler \
        --events benchmarks/examples/io_events.jsonl --prefetch 1,2,4,8,16

Its replies go back to the events' source, which no handler serves in the tuning
run: the table counts them as ``unrouted``.
"""

from __future__ import annotations

import time

from arvo_concurrent.arvo import ArvoEvent, create_arvo_event

SOURCE = "com.example.lookup"
CALL_S = 0.005


class LookupHandler:
    """Looks a key up in a (simulated) remote store that answers in ``call_s`` seconds."""

    source = SOURCE

    def __init__(self, call_s: float = CALL_S) -> None:
        self.call_s = call_s

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        """Waits for the remote call, then replies to the event's source."""
        time.sleep(self.call_s)  # stands for the remote call: the thread blocks, the GIL is free
        reply = create_arvo_event(
            type="evt.example.lookup.success",
            source=SOURCE,
            subject=event.subject,
            data={"key": event.data.get("key"), "found": True},
            to=event.source,
            parentid=event.id,
        )
        return [reply]


def create_handler() -> LookupHandler:
    """The factory ``--handler`` names."""
    return LookupHandler()
