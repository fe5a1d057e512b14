from __future__ import annotations

import queue
import threading
from typing import Any

from arvo_concurrent.actors.base import LibraryActor


class Echo(LibraryActor):
    def on_receive(self, message: Any) -> Any:
        return message


def test_library_actors_run_on_daemon_threads_with_a_simple_queue_inbox() -> None:
    ref = Echo.start()
    try:
        assert isinstance(ref.actor_inbox, queue.SimpleQueue)
        assert ref.ask("ping", timeout=5) == "ping"
        daemon = {t.name: t.daemon for t in threading.enumerate()}
        assert any(name.startswith("Echo-") and is_daemon for name, is_daemon in daemon.items())
    finally:
        ref.stop(timeout=5)


def test_asks_queued_behind_a_stop_are_answered_with_actor_dead_errors() -> None:
    # Pykka's teardown drains the inbox with empty()/get(): SimpleQueue must support it.
    gate = threading.Event()

    class Blocker(LibraryActor):
        def on_receive(self, message: Any) -> Any:
            gate.wait(5)
            return message

    ref = Blocker.start()
    first = ref.ask("first", block=False)
    stop = ref.stop(block=False)
    late = ref.ask("late", block=False)
    gate.set()
    assert first.get(timeout=5) == "first"
    stop.get(timeout=5)
    try:
        late.get(timeout=5)
        raised = None
    except Exception as error:
        raised = error
    assert type(raised).__name__ == "ActorDeadError"
