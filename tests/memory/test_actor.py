"""The memory actor on its own: fencing by the latest lease, caller deadlines, the expiry gate."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pykka
import pytest

from arvo_concurrent.actors.inline import InlineMailbox
from arvo_concurrent.memory import FencingError
from arvo_concurrent.memory.actor import MemoryActor
from arvo_concurrent.memory.config import MemoryConfig
from arvo_concurrent.memory.held import HeldLeases
from arvo_concurrent.memory.messages import (
    Acquire,
    Cleanup,
    Grant,
    LeasesDue,
    Read,
    Release,
    Write,
)
from arvo_concurrent.memory.reply import Reply
from arvo_concurrent.testing import ManualScheduler

TTL_S = 0.125


class CountingGate:
    """A lock that counts how often it was taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries = 0

    def __enter__(self) -> None:
        self._lock.acquire()
        self.entries += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


class Harness:
    def __init__(
        self, ref: pykka.ActorRef[MemoryActor], mailbox: InlineMailbox, clock: ManualScheduler
    ) -> None:
        self.ref = ref
        self.mailbox = mailbox
        self.clock = clock
        self._tickets = itertools.count(1)

    def acquire(self, owner: str, asked_at: float | None = None) -> Grant | None:
        reply: Reply[Grant | None] = Reply()
        asked = self.clock.now() if asked_at is None else asked_at
        self.mailbox.post(Acquire("wf", owner, next(self._tickets), asked, reply))
        return reply.wait(10)

    def write(self, owner: str, fence: int | None, data: dict[str, Any]) -> None:
        reply: Reply[None] = Reply()
        self.mailbox.post(Write("wf", data, owner, fence, reply))
        reply.wait(10)

    def release(self, owner: str, fence: int) -> bool:
        reply: Reply[bool] = Reply()
        self.mailbox.post(Release("wf", owner, fence, reply))
        return reply.wait(10)

    def cleanup(self, owner: str) -> None:
        reply: Reply[None] = Reply()
        self.mailbox.post(Cleanup("wf", owner, reply))
        reply.wait(10)

    def read(self) -> Any:
        reply: Reply[Any] = Reply()
        self.mailbox.post(Read("wf", reply))
        return reply.wait(10)


@pytest.fixture
def gate() -> CountingGate:
    return CountingGate()


@pytest.fixture
def harness(gate: CountingGate) -> Iterator[Harness]:
    clock = ManualScheduler()
    threads: list[threading.Thread] = []
    config = MemoryConfig.validated(3, 100, 1.5, TTL_S * 1000, True)
    held = HeldLeases(clock.now)
    held.gate = gate  # type: ignore[assignment]
    mailbox = InlineMailbox()
    ref = MemoryActor.start(config, clock, threads, held, mailbox)
    yield Harness(ref, mailbox, clock)
    ref.stop(timeout=10)
    for thread in threads:
        thread.join(10)
    clock.close()


def _expire(harness: Harness, lease: Grant) -> None:
    harness.mailbox.post(LeasesDue(lease.expires_at))


def test_a_write_under_an_older_lease_is_refused_after_the_later_holder_unlocked(
    harness: Harness,
) -> None:
    first = harness.acquire("a")
    assert first is not None
    _expire(harness, first)
    second = harness.acquire("b")
    assert second is not None
    harness.write("b", second.fence, {"by": "b"})
    assert harness.release("b", second.fence)
    with pytest.raises(FencingError) as caught:
        harness.write("a", first.fence, {"by": "a"})
    assert (caught.value.holder, caught.value.fence) == (None, second.fence)
    assert harness.read() == {"by": "b"}


def test_a_lapsed_lease_may_still_write_while_no_later_lease_was_granted(
    harness: Harness,
) -> None:
    lease = harness.acquire("a")
    assert lease is not None
    _expire(harness, lease)
    harness.write("a", lease.fence, {"by": "a"})
    assert harness.read() == {"by": "a"}


def test_a_lapsed_fence_is_kept_after_cleanup_and_forgotten_a_ttl_after_the_last_grant(
    harness: Harness,
) -> None:
    # The clock stays at 0: every lease expires at TTL_S, a lapsed fence is kept
    # until TTL_S after its lease's expiry, or later leases' expiry, whichever is later.
    first = harness.acquire("a")
    assert first is not None
    _expire(harness, first)
    second = harness.acquire("b")
    assert second is not None
    harness.write("b", second.fence, {"by": "b"})
    harness.cleanup("b")
    assert harness.release("b", second.fence)
    with pytest.raises(FencingError):
        harness.write("a", first.fence, {"by": "a"})  # would resurrect the cleaned-up state
    harness.mailbox.post(LeasesDue(2 * TTL_S - 0.0625))
    with pytest.raises(FencingError):
        harness.write("a", first.fence, {"by": "a"})
    harness.mailbox.post(LeasesDue(2 * TTL_S))  # one TTL after a's lapse, b's lease long over
    harness.write("a", first.fence, {"by": "a"})  # forgotten: a write as by anyone
    assert harness.read() == {"by": "a"}


def test_a_request_whose_deadline_passed_on_its_way_is_refused_without_parking(
    harness: Harness,
) -> None:
    assert harness.acquire("a") is not None
    budget_s = 0.475  # 100 + 150 + 225 ms
    assert harness.acquire("b", asked_at=harness.clock.now() - budget_s) is None
    assert harness.clock.pending() == 1  # the lease timer only: no wait was armed


def test_the_lease_timer_queues_expiries_under_the_facades_gate(
    harness: Harness, gate: CountingGate
) -> None:
    lease = harness.acquire("a")
    assert lease is not None
    assert gate.entries == 0
    assert harness.clock.advance(TTL_S) == 1
    assert gate.entries == 1
    assert harness.acquire("b") is not None  # the expiry took effect
