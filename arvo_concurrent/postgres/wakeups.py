"""Unlock notifications: one LISTEN connection per memory wakes the threads waiting for an id.

An unlock (or a cleanup that drops a lease) runs ``pg_notify(channel, key)`` in its
statement, where ``key`` is the MD5 of the id: a fixed-size payload whatever the id's
length. PostgreSQL delivers it at commit to every listening process. A waiter arms its
:class:`Watch` before it tries the lock, so an unlock that commits after the try always
wakes it; several notifications before it runs again coalesce into one wake-up.
Notifications carry no state: a woken waiter just tries again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

__all__ = ["WAKE_ALL", "Wakeups", "Watch", "channel_for", "key_for"]

logger = logging.getLogger(__name__)

WAKE_ALL = "*"
"""The payload that wakes every waiter (sent by ``clear``)."""

# With no notification, the listener looks this often whether it should stop: a bound
# for when the stop notification itself cannot be sent (the database went away).
_IDLE_S = 1.0
# Between reconnection attempts after the listening connection broke.
_RECONNECT_S = 0.5


def key_for(machine_id: str) -> str:
    """The notification payload for ``machine_id``: the hex MD5 of its UTF-8 bytes."""
    return hashlib.md5(machine_id.encode(), usedforsecurity=False).hexdigest()


def channel_for(schema: str) -> str:
    """The channel of one schema's memories (a short name, whatever the schema's length)."""
    return "arvo_memory_" + key_for(schema)[:16]


class Watch:
    """One waiting thread's wake-up flag. Used by that thread only; set by any."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def arm(self) -> None:
        """Forget earlier wake-ups: call before each try of the lock."""
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        """Block until woken or ``timeout`` seconds passed; True when woken."""
        return self._event.wait(max(timeout, 0.0))

    def wake(self) -> None:
        """Wake the waiting thread (never blocks)."""
        self._event.set()


class Wakeups:
    """The listening connection, its thread, and the watches per id key. Thread-safe.

    Args:
        connect: opens a new autocommit connection (at start and after a break).
        channel: the channel to LISTEN on.
        conn: an already open connection to listen on (it is closed by :meth:`close`).
        on_payload: when given, every payload (and ``WAKE_ALL`` after a reconnection)
            goes to it, on the listener thread, instead of waking watches; it must be
            quick and must not raise.
    """

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        channel: str,
        conn: psycopg.Connection[Any],
        on_payload: Callable[[str], None] | None = None,
    ) -> None:
        self._connect = connect
        self._on_payload = on_payload
        self._channel = channel
        self._lock = threading.Lock()
        self._watches: dict[str, set[Watch]] = {}
        self._stopping = threading.Event()
        # Random: every process on the channel sees it, and only this listener may stop.
        self._stop_payload = "stop:" + secrets.token_hex(16)
        self._conn = conn
        self._listen(conn)
        self._thread = threading.Thread(target=self._run, name="arvo-pg-listener", daemon=True)
        self._thread.start()

    @property
    def stop_payload(self) -> str:
        """The payload that ends this listener (sent on ``channel`` by :meth:`close`)."""
        return self._stop_payload

    @contextmanager
    def watch(self, key: str) -> Iterator[Watch]:
        """Register a watch on ``key`` for the duration of the block."""
        watch = Watch()
        with self._lock:
            self._watches.setdefault(key, set()).add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                watches = self._watches.get(key)
                if watches is not None:
                    watches.discard(watch)
                    if not watches:
                        del self._watches[key]

    def wake(self, key: str) -> None:
        """Wake every watch on ``key`` (``WAKE_ALL``: every watch). Never blocks."""
        if self._on_payload is not None:
            self._on_payload(key)
            return
        with self._lock:
            if key == WAKE_ALL:
                watches = [w for group in self._watches.values() for w in group]
            else:
                watches = list(self._watches.get(key, ()))
        for watch in watches:
            watch.wake()

    def close(self, send_stop: Callable[[], None], timeout: float | None) -> None:
        """Stop listening: ``send_stop`` notifies :attr:`stop_payload`; wait for the thread.

        Blocks until the listener thread ended or ``timeout`` seconds (at worst one idle
        period when the stop notification could not be sent). Wakes every watch.
        """
        self._stopping.set()
        try:
            send_stop()
        except Exception:
            logger.debug("Could not notify the listener to stop", exc_info=True)
        self._thread.join(timeout)
        self.wake(WAKE_ALL)

    # -- the listener thread -----------------------------------------------------------

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self._channel)))

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._receive()
                except psycopg.Error:
                    if self._stopping.is_set():
                        break
                    logger.warning("The memory's LISTEN connection broke; reconnecting")
                    self._reconnect()
        finally:
            self._conn.close()

    def _receive(self) -> None:
        for notify in self._conn.notifies(timeout=_IDLE_S):
            if notify.payload == self._stop_payload:
                self._stopping.set()
            else:
                self.wake(notify.payload)
            if self._stopping.is_set():
                return

    def _reconnect(self) -> None:
        self._conn.close()
        while not self._stopping.wait(_RECONNECT_S):
            try:
                conn = self._connect()
                self._listen(conn)
            except psycopg.Error:
                continue
            self._conn = conn
            # Unlocks while nobody listened were missed: every waiter tries again.
            self.wake(WAKE_ALL)
            return
