"""Lock owners as text: the caller's ``owner=``, or a token unique to the calling thread."""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import threading

from arvo_concurrent.postgres.errors import OwnerError

__all__ = ["owner_text"]

_local = threading.local()
_serial = itertools.count(1)


def owner_text(owner: object) -> str:
    """The owner to store: ``owner`` itself, or the calling thread's token when None.

    The thread token names the host, the process and the thread, with a random part
    drawn once per process: an owner must never be inherited by a forked child (whose
    main thread would otherwise share its parent's token), nor by a later thread or
    process that reuses an id. Thread-safe.

    Raises:
        OwnerError: ``owner`` is neither None nor a non-empty str.
    """
    if owner is None:
        return _thread_token()
    if isinstance(owner, str) and owner:
        return owner
    raise OwnerError(owner)


def _thread_token() -> str:
    pid = os.getpid()
    cached: tuple[int, str] | None = getattr(_local, "token", None)
    if cached is not None and cached[0] == pid:
        return cached[1]
    token = (
        f"{socket.gethostname()}/{pid}/{_process_nonce(pid)}/"
        f"{threading.current_thread().name}#{next(_serial)}"
    )
    _local.token = (pid, token)
    return token


_nonce: tuple[int, str] | None = None
_nonce_lock = threading.Lock()


def _process_nonce(pid: int) -> str:
    global _nonce  # noqa: PLW0603 - one nonce per process, redrawn after a fork
    with _nonce_lock:
        if _nonce is None or _nonce[0] != pid:
            _nonce = (pid, secrets.token_hex(4))
        return _nonce[1]
