"""InlineMailbox: a sender handles its message in place only while the actor is idle.

What must hold: one message at a time, whichever thread handles it; no message
overtakes one sent before it; nothing is handled after the actor stopped. The actor
below can be held after it took a message from its inbox and before it takes the turn,
which is where a sender could overtake it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from arvo_concurrent.actors.base import LibraryActor
from arvo_concurrent.actors.inline import InlineMailbox

WAIT_S = 5.0


class Recorder(LibraryActor):
    """Records (message, thread) pairs; ``("hold", event)`` waits for ``event`` first."""

    def __init__(self, mailbox: InlineMailbox, taken: threading.Event) -> None:
        super().__init__()
        self.handled: list[tuple[Any, threading.Thread]] = []
        self._inside = False
        self._mailbox = mailbox
        self._taken = taken
        mailbox.bind(self.actor_ref, self._handle)

    def on_receive(self, message: Any) -> None:
        if isinstance(message, tuple) and message[0] == "hold":
            # Taken from the inbox, not yet handled: the turn is still free here.
            self._taken.set()
            assert message[1].wait(WAIT_S)
        self._mailbox.receive(message)

    def on_stop(self) -> None:
        self._mailbox.stop()

    def _handle(self, message: Any) -> None:
        assert not self._inside, "two messages handled at once"
        self._inside = True
        self.handled.append((message, threading.current_thread()))
        self._inside = False
        if isinstance(message, threading.Event):
            message.set()  # a sync marker


@pytest.fixture
def actor() -> Iterator[tuple[InlineMailbox, Recorder, threading.Event]]:
    mailbox = InlineMailbox()
    taken = threading.Event()
    ref = Recorder.start(mailbox, taken)
    recorder = ref._actor_weakref()
    assert recorder is not None
    yield mailbox, recorder, taken
    if ref.is_alive():
        ref.stop()


def _sync(mailbox: InlineMailbox) -> None:
    """Return once the actor's thread handled everything posted before."""
    marker = threading.Event()
    mailbox.post(marker)
    assert marker.wait(WAIT_S)


def test_a_message_sent_to_an_idle_actor_is_handled_on_the_senders_thread(
    actor: tuple[InlineMailbox, Recorder, threading.Event],
) -> None:
    mailbox, recorder, _ = actor
    mailbox.send("hello")
    assert recorder.handled == [("hello", threading.current_thread())]


def test_a_posted_message_is_handled_on_the_actors_thread(
    actor: tuple[InlineMailbox, Recorder, threading.Event],
) -> None:
    mailbox, recorder, taken = actor
    release = threading.Event()
    release.set()
    mailbox.post(("hold", release))
    assert taken.wait(WAIT_S)
    mailbox.send("after")  # queued behind the posted one, or handled once it is done
    _sync(mailbox)
    messages = [message for message, _ in recorder.handled]
    assert messages[:2] == [("hold", release), "after"]
    assert recorder.handled[0][1] is not threading.current_thread()


def test_a_send_does_not_overtake_a_message_the_actor_took_but_has_not_handled(
    actor: tuple[InlineMailbox, Recorder, threading.Event],
) -> None:
    mailbox, recorder, taken = actor
    release = threading.Event()
    mailbox.post(("hold", release))
    assert taken.wait(WAIT_S)  # the actor holds the message; the turn is free
    mailbox.send("second")
    assert recorder.handled == []  # queued, not handled in place ahead of the first
    release.set()
    _sync(mailbox)
    assert [message for message, _ in recorder.handled][:2] == [("hold", release), "second"]


def test_nothing_is_handled_in_place_once_the_actor_stopped(
    actor: tuple[InlineMailbox, Recorder, threading.Event],
) -> None:
    mailbox, recorder, _ = actor
    recorder.actor_ref.stop()
    with pytest.raises(pykka.ActorDeadError):
        mailbox.send("late")
    assert recorder.handled == []
    assert not mailbox._queued  # the refused message is not counted as waiting


def test_senders_and_the_actor_never_handle_two_messages_at_once_and_keep_each_senders_order(
    actor: tuple[InlineMailbox, Recorder, threading.Event],
) -> None:
    mailbox, recorder, _ = actor
    senders, each = 4, 2_000
    start = threading.Barrier(senders)

    def send_all(sender: int) -> None:
        start.wait(WAIT_S)
        for n in range(each):
            # Every 64th message goes through the inbox, so that the actor's thread
            # is often busy while the others try to handle theirs in place.
            (mailbox.post if n % 64 == 63 else mailbox.send)((sender, n))

    threads = [threading.Thread(target=send_all, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 4)
    _sync(mailbox)
    handled = [message for message, _ in recorder.handled]
    assert len(handled) == senders * each + 1  # + the sync marker
    for sender in range(senders):
        assert [n for s, n in (m for m in handled if isinstance(m, tuple)) if s == sender] == list(
            range(each)
        )
