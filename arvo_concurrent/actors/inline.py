"""A mailbox that lets the sender handle its own message while the actor is idle.

A message told to a Pykka actor costs a thread hand-off: the actor's thread must wake,
handle it and, when the sender waits for an answer, wake the sender again. When the
actor has nothing else to do, the sender can handle the message itself, on its own
thread, and skip both hand-offs. The actor's guarantees hold as long as:

* one message at a time is handled, whichever thread handles it (the *turn*, a lock
  held around each message);
* no message overtakes one told before it: the sender handles its message in place only
  when no message is waiting or being handled (a count of the messages sent through the
  inbox and not yet handled, read while holding the turn);
* nothing is handled in place once the actor stopped.

So the actor still serialises every operation, and its thread handles whatever arrives
while it is busy, and everything it schedules for itself (timers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pykka

__all__ = ["InlineMailbox"]


def _unbound(message: object) -> None:
    raise RuntimeError("InlineMailbox.bind was not called")


class InlineMailbox:
    """The way into one actor, for the actor and everyone who sends to it.

    :meth:`send` and :meth:`post` are thread-safe and never block on the actor's work
    (the turn is only ever tried, never waited for, outside the actor's thread): a
    sender that finds the actor busy queues its message. :meth:`receive` runs on the
    actor's thread (its ``on_receive``) and waits for the turn while a sender holds it.

    The actor binds itself in its constructor (:meth:`bind`), before anyone sends.
    """

    __slots__ = ("_handle", "_queued", "_ref", "_stopped", "_turn")

    def __init__(self) -> None:
        self._handle: Callable[[Any], None] = _unbound
        self._turn = threading.Lock()
        self._queued: list[None] = []  # one entry per message in the inbox: a lock-free count
        self._stopped = False
        self._ref: pykka.ActorRef[Any] | None = None

    def bind(self, ref: pykka.ActorRef[Any], handle: Callable[[Any], None]) -> None:
        """Connect the actor: ``ref`` gets queued messages, ``handle`` handles each one.

        ``handle`` is called with the turn held, on whichever thread handles the
        message; it must not raise (the actor's own catch-all reports errors).
        """
        self._ref = ref
        self._handle = handle

    def send(self, message: object) -> None:
        """Handle ``message`` here if the actor is idle, else queue it for the actor.

        Raises:
            pykka.ActorDeadError: the actor has stopped.
        """
        if not self._queued and self._turn.acquire(blocking=False):
            try:
                # Checked again with the turn held: a message the actor took from its
                # inbox still counts until it is handled, so none can be overtaken.
                if not self._queued and not self._stopped:
                    self._handle(message)
                    return
            finally:
                self._turn.release()
        self.post(message)

    def post(self, message: object) -> None:
        """Queue ``message`` for the actor's thread, behind every message sent before.

        Raises:
            pykka.ActorDeadError: the actor has stopped.
        """
        assert self._ref is not None, "InlineMailbox.bind was not called"
        self._queued.append(None)
        try:
            self._ref.tell(message)
        except BaseException:
            self._queued.pop()
            raise

    def receive(self, message: object) -> None:
        """On the actor's thread: handle a queued ``message`` when the turn is free."""
        with self._turn:
            try:
                self._handle(message)
            finally:
                self._queued.pop()

    def stop(self) -> None:
        """On the actor's thread, as it stops: nothing is handled in place from now on."""
        with self._turn:
            self._stopped = True
