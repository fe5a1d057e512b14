"""A broker process of the multi-process tests: ``python -m tests.postgres_broker.worker JSON``.

It runs the W4 workflow's handlers (``arvo.orc.bench.sequence`` on a
PostgresMachineMemory, ``com.bench.svc``) on a broker with a PostgresTransport, prints
``{"ready": true}`` once subscribed, and closes on a ``close`` line on stdin, printing
``{"closed": true}``. With ``"hold": true`` its first service call prints
``{"holding": <event id>}`` and never returns (the test kills the process then).
``lease_ms`` and ``lock_ttl_ms`` shorten the queue's and the memory's leases.
With ``"resolve": m`` it serves no handler: it waits for a ``go`` line, resolves ``m``
W4 workflows at once and prints ``{"resolved": [[init subject, final subject, final
type], ...]}``, then closes.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from arvo_concurrent import ArvoEvent, create_concurrent_event_broker
from arvo_concurrent.postgres import PostgresMachineMemory, PostgresTransport
from benchmarks.workloads.bench_arvo import sequence_init, sequence_resumable, service_handler


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class HoldFirst:
    """Wraps the service handler: the first event announces itself and blocks forever."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler
        self._first = threading.Lock()
        self.source = handler.source

    def execute(self, event: ArvoEvent) -> Any:
        if self._first.acquire(blocking=False):
            say({"holding": event.id})
            threading.Event().wait()
        return self._handler.execute(event)


def resolve(dsn: str, schema: str, m: int) -> None:
    """Resolve ``m`` W4 workflows from this process, all in flight at once."""
    with create_concurrent_event_broker([], transport=PostgresTransport(dsn, schema=schema)) as h:
        say({"ready": True})
        assert sys.stdin.readline().strip() == "go"
        inits = [sequence_init(3) for _ in range(m)]
        futures = [h.resolve_async(init) for init in inits]
        finals = [future.result(45) for future in futures]
    pairs = [[i.subject, f.subject, f.type] for i, f in zip(inits, finals, strict=True)]
    say({"resolved": pairs})


def main(args: dict[str, Any]) -> None:
    dsn, schema = args["dsn"], args["schema"]
    if args.get("resolve"):
        resolve(dsn, schema, args["resolve"])
        return
    service: Any = service_handler(args.get("svc_s", 0.001))
    if args.get("hold"):
        service = HoldFirst(service)
    # A workflow lock held by a killed process lapses after lock_ttl_ms; meanwhile its
    # next step is refused the lock and retried from the queue, as often as it takes.
    ttl = args.get("lock_ttl_ms", 120_000)
    with PostgresMachineMemory(dsn, schema=schema, lock_ttl_ms=ttl) as memory:
        transport = PostgresTransport(dsn, schema=schema, lease_ms=args.get("lease_ms", 30_000))
        retry = {"max_retries": 20, "initial_delay_ms": 50, "backoff_exponent": 1.2}
        handlers = [
            {
                "handler": sequence_resumable(memory),
                "prefetch": args.get("prefetch", 10),
                "retry": retry,
            },
            {"handler": service, "prefetch": args.get("prefetch", 10)},
        ]
        with create_concurrent_event_broker(handlers, transport=transport):
            say({"ready": True})
            for line in sys.stdin:
                if line.strip() == "close":
                    break
    say({"closed": True})


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
