"""The memory actor on its own: held-back releases are collected when a request contends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest

from arvo_concurrent.actors.scheduler import ManualScheduler
from arvo_concurrent.memory.actor import MemoryActor
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.messages import Acquire, Grant, Read
from arvo_concurrent.memory.mirror import LeaseMirror
from arvo_concurrent.memory.reply import Reply


@pytest.fixture
def actor() -> Iterator[tuple[pykka.ActorRef[MemoryActor], LeaseMirror]]:
    clock = ManualScheduler()
    mirror = LeaseMirror(clock.now)
    threads: list[threading.Thread] = []
    config = MemoryConfig.validated(3, 100, 1.5, 120_000, True)
    ref = MemoryActor.start(config, clock, mirror, threads)
    yield ref, mirror
    ref.stop(timeout=10)
    for thread in threads:
        thread.join(10)


def _acquire(ref: pykka.ActorRef[MemoryActor], owner: str, ticket: int) -> Reply[Grant | None]:
    reply: Reply[Grant | None] = Reply()
    ref.tell(Acquire("wf", owner, ticket, reply))
    return reply


def test_a_release_held_back_is_collected_by_a_contending_request(
    actor: tuple[pykka.ActorRef[MemoryActor], LeaseMirror],
) -> None:
    ref, mirror = actor
    grant = _acquire(ref, "a", 1).wait(10)
    assert grant is not None
    mirror.remember("wf", "a", grant)
    assert mirror.write("wf", "a", {"by": "a"})
    # Nobody contends yet: the release (carrying a's write) is held back, not sent.
    assert mirror.release("wf", "a", ref.tell)
    # b's request reaches the actor without passing through the mirror, as when it
    # was queued before a's unlock: the actor must collect the release itself.
    second = _acquire(ref, "b", 2).wait(10)
    assert second is not None
    assert second.data == {"by": "a"}
    assert second.fence > grant.fence
    assert mirror.take_deferred() == []


def test_a_contended_lease_is_released_at_once(
    actor: tuple[pykka.ActorRef[MemoryActor], LeaseMirror],
) -> None:
    ref, mirror = actor
    grant = _acquire(ref, "a", 1).wait(10)
    assert grant is not None
    mirror.remember("wf", "a", grant)
    waiting = _acquire(ref, "b", 2)
    state: Reply[object] = Reply()
    ref.tell(Read("wf", state))
    assert state.wait(10) is None  # the actor has parked b by now
    assert grant.contention.contended
    sent: list[object] = []
    assert mirror.release("wf", "a", sent.append)
    assert len(sent) == 1  # sent, not held back
    ref.tell(sent[0])
    assert waiting.wait(10) is not None
