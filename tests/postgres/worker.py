"""A separate process for the multi-process tests: ``python -m tests.postgres.worker JSON``.

The JSON names a command and its arguments. The worker prints one JSON line per event
the test waits for (flushed at once) and reads its go-ahead lines from stdin, so the
test orders steps by messages, never by sleeping.

* ``increment``: ``threads`` x ``times`` locked increments of ``counter`` in ``id``;
  prints ``{"refused": n}``.
* ``hold``: lock ``id``, read it, print ``{"locked": state}``; on a stdin line, write
  ``count + 1`` and print ``{"wrote": true}`` or ``{"fenced": fence}``.
* ``fanin``: run the fan-in resumable on each event (JSON lines on stdin, until an
  empty line) with ``threads`` threads; prints ``{"outputs": [event json...]}``.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arvo_concurrent import ArvoEvent
from arvo_concurrent.memory import FencingError
from arvo_concurrent.postgres import PostgresMachineMemory
from tests.postgres.workflow import fanin_resumable


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def increment(memory: PostgresMachineMemory, machine_id: str, threads: int, times: int) -> None:
    refused: list[int] = []
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        misses = 0
        for _ in range(times):
            if not memory.lock(machine_id):
                misses += 1
                continue
            state = memory.read(machine_id) or {"count": 0}
            memory.write(machine_id, {"count": state["count"] + 1})
            memory.unlock(machine_id)
        refused.append(misses)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    say({"refused": sum(refused), "workers": len(refused)})


def hold(memory: PostgresMachineMemory, machine_id: str) -> None:
    assert memory.lock(machine_id)
    state = memory.read(machine_id) or {"count": 0}
    say({"locked": state})
    sys.stdin.readline()
    try:
        memory.write(machine_id, {"count": state["count"] + 1})
    except FencingError as error:
        say({"fenced": error.fence})
    else:
        say({"wrote": True})


def fanin(memory: PostgresMachineMemory, threads: int) -> None:
    workflow = fanin_resumable(memory)
    events = []
    for line in sys.stdin:
        if not line.strip():
            break
        events.append(ArvoEvent.from_json(line))
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(workflow.execute, events))
    say({"outputs": [event.to_json() for batch in results for event in batch]})


def main() -> None:
    args = json.loads(sys.argv[1])
    settings = args.get("settings", {})
    with PostgresMachineMemory(args["dsn"], schema=args["schema"], **settings) as memory:
        command = args["command"]
        if command == "increment":
            increment(memory, args["id"], args["threads"], args["times"])
        elif command == "hold":
            hold(memory, args["id"])
        elif command == "fanin":
            fanin(memory, args["threads"])
        else:
            raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
