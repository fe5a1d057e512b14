"""The Pykka actor class every actor of the library derives from.

Two choices made once for all of them:

* daemon threads, so a forgotten ``close()`` can never hang interpreter exit;
* a ``queue.SimpleQueue`` inbox instead of Pykka's default ``queue.Queue``. An actor's
  inbox only needs ``put``, ``get`` and ``empty`` (Pykka's ``ActorInbox`` protocol),
  and the C-implemented SimpleQueue skips the Python-level lock and condition of
  ``queue.Queue``, which makes a tell-and-reply round trip measurably cheaper
  (benchmarks/RESULTS.md). Thread hand-offs are what every hop costs, so this is on
  the hot path of the router, the pool workers and the memory actor.
  ``_create_actor_inbox`` is the runtime hook Pykka's own ``ThreadingActor`` overrides;
  ``tests/actors/test_base.py`` checks that Pykka still calls it.
"""

from __future__ import annotations

import queue
from typing import Any, ClassVar

import pykka

__all__ = ["LibraryActor"]


class LibraryActor(pykka.ThreadingActor):
    """A ThreadingActor on a daemon thread with a SimpleQueue inbox."""

    use_daemon_thread: ClassVar[bool] = True

    @staticmethod
    def _create_actor_inbox() -> Any:
        return queue.SimpleQueue()
