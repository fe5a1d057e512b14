"""Waiting for a lock: FIFO hand-off, no polling, bounded budget (TypeScript memory.test.ts 10)."""

from __future__ import annotations

import threading

import pytest

from arvo_concurrent.errors import ClosedError
from arvo_concurrent.memory import MemoryTimeoutError, machine_memory
from tests.memory.helpers import advance, manual_memory, sync


def test_a_waiter_is_granted_the_moment_the_lock_is_released() -> None:
    with manual_memory() as (memory, clock):
        assert memory.lock("wf", owner="holder")
        waiter = memory.request_lock("wf", owner="waiter")
        sync(memory)
        assert not waiter.done()
        assert memory.unlock("wf", owner="holder")
        assert waiter.wait() is True
        assert clock.now() == 0.0  # granted without the clock moving: no retry interval


def test_waiters_are_granted_in_fifo_order() -> None:
    owners = [f"owner-{i}" for i in range(5)]
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="holder")
        pending = [memory.request_lock("wf", owner=owner) for owner in owners]
        previous = "holder"
        for index, owner in enumerate(owners):
            assert memory.unlock("wf", owner=previous)
            assert pending[index].wait() is True
            sync(memory)
            assert [p.done() for p in pending] == [i <= index for i in range(len(owners))]
            previous = owner
        assert memory.unlock("wf", owner=previous)


def test_a_thread_waiting_in_lock_wakes_when_the_holder_unlocks() -> None:
    with manual_memory() as (memory, clock):
        assert memory.lock("wf", owner="holder")
        clock.scheduled.clear()  # the lease timer was set
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(memory.lock("wf")))
        waiter.start()
        # The actor sets the wait deadline's timer when it parks the request: the
        # waiter is blocked in lock() before the holder unlocks.
        assert clock.scheduled.wait(timeout=10)
        assert result == []
        assert memory.unlock("wf", owner="holder")
        waiter.join()
        assert result == [True]
        assert clock.now() == 0.0  # no deadline passed: the unlock granted it


def test_lock_returns_false_once_the_retry_budget_is_spent() -> None:
    # TypeScript test 10: (3 retries, 50 ms, x2) -> False after >= 350 ms (50 + 100 + 200).
    settings = {"lock_max_retries": 3, "lock_initial_delay_ms": 50, "lock_backoff_exponent": 2}
    with manual_memory(**settings) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        waiter = memory.request_lock("wf", owner="waiter")
        for step in (0.25, 0.0625, 0.03125):  # up to 0.34375 s
            advance(memory, clock, step)
            assert not waiter.done(), clock.now()
        advance(memory, clock, 0.0078125)  # 0.3515625 s
        assert waiter.wait() is False
        assert clock.now() >= 0.35
        assert memory.unlock("wf", owner="holder")


def test_the_wait_budget_counts_from_the_request_not_from_its_arrival() -> None:
    with manual_memory(lock_max_retries=1, lock_initial_delay_ms=125) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        send = memory._tell
        in_transit: list[object] = []
        memory._tell = in_transit.append  # type: ignore[method-assign, assignment]
        late = memory.request_lock("wf", owner="late")
        memory._tell = send  # type: ignore[method-assign]
        advance(memory, clock, 0.125)  # the whole budget passes before the request arrives
        send(in_transit[0])
        assert late.wait() is False
        assert clock.now() == 0.125  # refused on arrival, not a budget later
        assert memory.unlock("wf", owner="holder")


def test_zero_retries_means_one_try_and_no_wait() -> None:
    with manual_memory(lock_max_retries=0) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        assert memory.lock("wf", owner="other") is False
        assert clock.pending() == 1  # only the lease timer: the refusal armed no wait
        assert clock.now() == 0.0


def test_a_refused_waiter_leaves_the_queue() -> None:
    with manual_memory(lock_max_retries=1, lock_initial_delay_ms=125) as (memory, clock):
        assert memory.lock("wf", owner="holder")
        early = memory.request_lock("wf", owner="early")
        sync(memory)
        advance(memory, clock, 0.0625)
        late = memory.request_lock("wf", owner="late")
        sync(memory)
        advance(memory, clock, 0.0625)  # early's budget ends
        assert early.wait() is False
        assert memory.unlock("wf", owner="holder")
        assert late.wait() is True  # the refused request was not granted the lock
        assert memory.unlock("wf", owner="late")
        assert memory.unlock("wf", owner="early") is True  # never held, id free


def test_lease_expiry_frees_the_lock_of_a_holder_that_died() -> None:
    with manual_memory(lock_ttl_ms=125, lock_max_retries=5) as (memory, clock):
        holder = threading.Thread(target=lambda: memory.lock("wf"))  # locks, then ends
        holder.start()
        holder.join()
        waiter = memory.request_lock("wf", owner="survivor")
        sync(memory)
        assert not waiter.done()
        advance(memory, clock, 0.125)
        assert waiter.wait() is True


def test_lease_expiry_hands_the_lock_to_the_first_waiter_only() -> None:
    with manual_memory(lock_ttl_ms=125, lock_max_retries=5) as (memory, clock):
        assert memory.lock("wf", owner="a")
        first = memory.request_lock("wf", owner="b")
        second = memory.request_lock("wf", owner="c")
        sync(memory)
        advance(memory, clock, 0.125)
        assert first.wait() is True
        assert not second.done()
        assert memory.unlock("wf", owner="b")
        assert second.wait() is True


def test_close_refuses_parked_requests_with_closed_error() -> None:
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="holder")
        waiter = memory.request_lock("wf", owner="waiter")
        sync(memory)
        memory.close()
        with pytest.raises(ClosedError):
            waiter.wait()


def test_a_thread_blocked_in_lock_is_released_by_close() -> None:
    with manual_memory() as (memory, _clock):
        assert memory.lock("wf", owner="holder")
        errors: list[BaseException] = []
        parked = threading.Event()

        def wait_for_lock() -> None:
            pending = memory.request_lock("wf", owner="waiter")
            parked.set()
            try:
                pending.wait()
            except ClosedError as error:
                errors.append(error)

        waiter = threading.Thread(target=wait_for_lock)
        waiter.start()
        assert parked.wait(timeout=10)
        memory.close()
        waiter.join()
        assert len(errors) == 1


def test_an_operation_whose_message_the_stopping_actor_never_handles_raises_closed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A message queued behind the actor's stop is dropped unanswered. The answer timeout
    # is made far longer than the test, so only noticing the close can end the wait.
    monkeypatch.setattr(machine_memory, "_ANSWER_TIMEOUT_S", 3600.0)
    with manual_memory() as (memory, _clock):
        dropped = threading.Event()

        class LateRef:
            """Delivers nothing, as if each message landed behind the stop."""

            def tell(self, message: object) -> None:
                dropped.set()

        mailbox = memory._mailbox
        mailbox._ref = LateRef()  # type: ignore[assignment]
        # As if another message were ahead in the inbox: the read must be queued, not
        # handled by its caller in place.
        mailbox._queued.append(None)
        errors: list[BaseException] = []

        def read() -> None:
            try:
                memory.read("wf")
            except ClosedError as error:
                errors.append(error)

        reader = threading.Thread(target=read)
        reader.start()
        assert dropped.wait(timeout=10)
        memory.close()
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert len(errors) == 1


def test_a_lock_the_actor_never_answers_raises_and_withdraws_its_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The manual clock never moves, so the actor never refuses the request: only the
    # caller's own (real-time) answer timeout, beyond the longest wait, can end it.
    monkeypatch.setattr(machine_memory, "_ANSWER_TIMEOUT_S", 0.05)
    settings = {"lock_max_retries": 1, "lock_initial_delay_ms": 1, "lock_ttl_ms": 1}
    with manual_memory(**settings) as (memory, _clock):
        assert memory.lock("wf", owner="holder")
        with pytest.raises(MemoryTimeoutError) as caught:
            memory.lock("wf", owner="impatient")
        assert (caught.value.machine_id, caught.value.operation) == ("wf", "lock")
        assert isinstance(caught.value, TimeoutError)
        assert memory.unlock("wf", owner="holder")
        after = memory.request_lock("wf", owner="next")
        sync(memory)
        assert after.done()  # the withdrawn request was not granted ahead of it
        assert after.wait() is True
