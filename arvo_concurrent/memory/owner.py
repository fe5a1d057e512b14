"""Who holds a lock when the caller does not say: the calling thread."""

from __future__ import annotations

import threading

__all__ = ["ThreadOwner", "current_owner"]


class ThreadOwner:
    """The default lock owner of one thread.

    A fresh object per thread, not the thread's ident: idents are reused once a thread
    ends, and a new thread must never inherit the lock of a dead one.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<thread {self.name}>"


_local = threading.local()


def current_owner() -> ThreadOwner:
    """The calling thread's owner token (the same object on every call from that thread)."""
    try:
        owner: ThreadOwner = _local.owner
    except AttributeError:
        owner = _local.owner = ThreadOwner(threading.current_thread().name)
    return owner
