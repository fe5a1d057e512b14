from __future__ import annotations

import asyncio
import threading

import pytest

from arvo_concurrent.broker.errors import HandlerAbortedError
from arvo_concurrent.broker.retry import (
    Failed,
    OnErrorAnswerError,
    RetryInfo,
    RetryPolicy,
    Succeeded,
    Suppressed,
    run_with_retries,
)


class Flaky:
    """Fails ``failures`` times, then returns ``"ok"``."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"failure {self.calls}")
        return "ok"


def run(call: Flaky, policy: RetryPolicy, **kwargs: object) -> tuple[object, list[float]]:
    waits: list[float] = []
    outcome = run_with_retries(
        call,
        policy,
        event="evt",
        closing=threading.Event(),
        sleep=waits.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return outcome, waits


def test_policy_waits_initial_times_exponent_to_the_i_and_not_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_retries=3, initial_delay_ms=100, backoff_exponent=1.5)
    assert [policy.delay_s(a) for a in (1, 2, 3)] == pytest.approx([0.1, 0.15, 0.225])
    assert [policy.gives_up_after(a) for a in (1, 2, 3, 4)] == [False, False, False, True]


def test_max_retries_three_means_four_attempts_and_three_waits() -> None:
    flaky = Flaky(failures=10)
    outcome, waits = run(flaky, RetryPolicy(max_retries=3, initial_delay_ms=10, backoff_exponent=2))
    assert isinstance(outcome, Failed)
    assert outcome.reason == "exhausted"
    assert outcome.attempts == 4
    assert flaky.calls == 4
    assert waits == pytest.approx([0.01, 0.02, 0.04])
    assert str(outcome.error) == "failure 4"


def test_zero_retries_means_one_attempt_and_no_wait() -> None:
    flaky = Flaky(failures=1)
    outcome, waits = run(flaky, RetryPolicy(max_retries=0))
    assert isinstance(outcome, Failed)
    assert (flaky.calls, waits) == (1, [])


def test_one_retry_really_retries() -> None:
    flaky = Flaky(failures=1)
    outcome, waits = run(flaky, RetryPolicy(max_retries=1, initial_delay_ms=20))
    assert outcome == Succeeded("ok", 2)
    assert waits == pytest.approx([0.02])


def test_success_at_first_attempt_never_waits() -> None:
    outcome, waits = run(Flaky(failures=0), RetryPolicy())
    assert outcome == Succeeded("ok", 1)
    assert waits == []


def test_suppress_stops_at_once_without_running_again() -> None:
    flaky = Flaky(failures=10)
    outcome, waits = run(flaky, RetryPolicy(max_retries=3), on_error=lambda e, i: "SUPPRESS")
    assert isinstance(outcome, Suppressed)
    assert (flaky.calls, waits) == (1, [])


def test_throw_stops_at_once_with_the_handler_error() -> None:
    flaky = Flaky(failures=10)
    outcome, _ = run(flaky, RetryPolicy(max_retries=3), on_error=lambda e, i: "THROW")
    assert isinstance(outcome, Failed)
    assert outcome.reason == "thrown"
    assert str(outcome.error) == "failure 1"
    assert flaky.calls == 1


def test_on_error_sees_the_attempt_number_config_and_event() -> None:
    seen: list[RetryInfo] = []

    def on_error(error: BaseException, info: RetryInfo) -> str:
        seen.append(info)
        return "RETRY"

    run(Flaky(failures=2), RetryPolicy(max_retries=5, initial_delay_ms=7), on_error=on_error)
    assert [i.current_attempt for i in seen] == [1, 2]
    assert {(i.max_retries, i.initial_delay_ms, i.event) for i in seen} == {(5, 7, "evt")}


def test_none_answer_means_retry() -> None:
    outcome, _ = run(Flaky(failures=1), RetryPolicy(max_retries=1), on_error=lambda e, i: None)
    assert outcome == Succeeded("ok", 2)


def test_a_coroutine_answer_is_a_clear_error_not_a_retry() -> None:
    async def on_error(error: BaseException, info: RetryInfo) -> str:
        return "SUPPRESS"

    flaky = Flaky(failures=10)
    outcome, _ = run(flaky, RetryPolicy(max_retries=3), on_error=on_error)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, OnErrorAnswerError)
    assert "must return 'RETRY', 'SUPPRESS', 'THROW' or None" in str(outcome.error)
    assert flaky.calls == 1


def test_an_on_error_that_raises_stops_with_its_error() -> None:
    def on_error(error: BaseException, info: RetryInfo) -> str:
        raise KeyError("broken hook")

    outcome, _ = run(Flaky(failures=10), RetryPolicy(), on_error=on_error)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, KeyError)


def test_closing_during_a_backoff_ends_the_wait_at_once() -> None:
    closing = threading.Event()
    flaky = Flaky(failures=10)

    def on_error(error: BaseException, info: RetryInfo) -> str:
        closing.set()  # the broker starts closing while this event is failing
        return "RETRY"

    outcome = run_with_retries(
        flaky,
        RetryPolicy(max_retries=3, initial_delay_ms=600_000),
        event=None,
        on_error=on_error,
        closing=closing,
    )
    assert isinstance(outcome, Failed)
    assert outcome.reason == "closing"
    assert flaky.calls == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("initial_delay_ms", -5),
        ("backoff_exponent", "2"),
    ],
)
def test_bad_policy_values_are_named(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"retry.{field} must be"):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


def test_a_base_exception_ends_the_loop_at_once_without_asking_on_error() -> None:
    asked: list[BaseException] = []

    def cancelled() -> str:
        raise asyncio.CancelledError("from a nested event loop")

    outcome = run_with_retries(
        cancelled,
        RetryPolicy(max_retries=3),
        event="evt",
        closing=threading.Event(),
        on_error=lambda error, info: asked.append(error),
        sleep=lambda seconds: pytest.fail("an aborted execution must not be retried"),
    )
    assert isinstance(outcome, Failed)
    assert (outcome.reason, outcome.attempts) == ("aborted", 1)
    assert isinstance(outcome.error, HandlerAbortedError)
    assert isinstance(outcome.error.error, asyncio.CancelledError)
    assert outcome.error.event == "evt"
    assert asked == []
