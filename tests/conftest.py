"""Suite-wide guards: every test must leave no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

# Threads get this long to finish exiting after the code under test has closed them
# (a Pykka actor's thread ends just after its stop is acknowledged). It is a bound on a
# join, not a sleep: a clean test pays nothing.
_EXIT_GRACE_S = 2.0


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leftovers = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in leftovers:
        thread.join(_EXIT_GRACE_S)
    alive = [t.name for t in leftovers if t.is_alive()]
    assert not alive, f"test left threads running: {alive}"
