"""How a failed handler execution is retried: the policy, the decision hook and the loop.

The waits and the stop rule are tenacity strategies (``wait_exponential``,
``stop_after_attempt``) evaluated on a :class:`tenacity.RetryCallState`, as tenacity's
own tests do. The attempt loop is ours, so that an execution that succeeds at once
pays nothing for the retry machinery (a ``tenacity.Retrying`` call costs about as
much as a thread hand-off) and so that ``on_error`` can stop the loop early.

A retrying event keeps its prefetch slot while it waits: the backoff runs in the
worker that executed it, like the TypeScript broker's queue task. The wait is cut
short when the broker starts closing, so a backoff never delays ``close()``. A broker
whose events live in a database (``defer=True``) does not wait: the loop returns a
:class:`Deferred` and the event is run again, from the database, once its backoff passed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Generic, TypeVar

import msgspec
import tenacity

from arvo_concurrent.broker.errors import HandlerAbortedError
from arvo_concurrent.errors import ArgumentError, ArvoConcurrentError

__all__ = [
    "Deferred",
    "ErrorDecision",
    "Failed",
    "OnErrorAnswerError",
    "RetryDecider",
    "RetryInfo",
    "RetryPolicy",
    "Succeeded",
    "Suppressed",
    "run_with_retries",
]

T = TypeVar("T")


class ErrorDecision(StrEnum):
    """What ``on_error`` answers about a failed attempt."""

    RETRY = "RETRY"
    SUPPRESS = "SUPPRESS"
    THROW = "THROW"


class OnErrorAnswerError(ArvoConcurrentError, TypeError):
    """``on_error`` answered something other than RETRY, SUPPRESS, THROW or None.

    Attributes:
        answer: what it returned.
        error: the handler error it was asked about.
    """

    def __init__(self, answer: object, error: BaseException) -> None:
        super().__init__(
            "on_error must return 'RETRY', 'SUPPRESS', 'THROW' or None, "
            f"got {answer!r} (a plain function is expected, not a coroutine function); "
            f"the handler error was: {error!r}"
        )
        self.answer = answer
        self.error = error


class RetryInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What ``on_error(error, info)`` is told about the failed attempt."""

    max_retries: int
    initial_delay_ms: float
    backoff_exponent: float
    current_attempt: int
    event: Any


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """``1 + max_retries`` attempts, waiting ``initial * exponent**i`` ms before retry ``i+1``.

    No wait follows the last attempt. Immutable and thread-safe.
    """

    max_retries: int = 3
    initial_delay_ms: float = 100.0
    backoff_exponent: float = 1.5

    def __post_init__(self) -> None:
        _require(self.max_retries, "max_retries", int, minimum=0)
        _require(self.initial_delay_ms, "initial_delay_ms", (int, float), minimum=0)
        _require(self.backoff_exponent, "backoff_exponent", (int, float), minimum=0)

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = tenacity.wait_exponential(
            multiplier=self.initial_delay_ms / 1000, exp_base=self.backoff_exponent, max=math.inf
        )
        return float(wait(_state(attempt)))

    def gives_up_after(self, attempt: int) -> bool:
        """Whether failed attempt number ``attempt`` is the last one."""
        return bool(tenacity.stop_after_attempt(self.max_retries + 1)(_state(attempt)))

    def info(self, attempt: int, event: Any) -> RetryInfo:
        """The :class:`RetryInfo` for attempt number ``attempt`` of ``event``."""
        return RetryInfo(
            max_retries=self.max_retries,
            initial_delay_ms=self.initial_delay_ms,
            backoff_exponent=self.backoff_exponent,
            current_attempt=attempt,
            event=event,
        )


def _require(value: object, name: str, kind: Any, *, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or not value >= minimum:
        raise ArgumentError(
            f"retry.{name} must be a number >= {minimum}, got {value!r}", f"retry.{name}", value
        )


_RETRYING = tenacity.Retrying()


def _state(attempt: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(_RETRYING, None, (), {})
    state.attempt_number = attempt
    return state


RetryDecider = Callable[[Exception, RetryInfo], object]
"""A handler's ``on_error(error, info)``: answers what to do about a failed attempt.

``"RETRY"`` (or None), ``"SUPPRESS"`` or ``"THROW"`` (an :class:`ErrorDecision`);
anything else is reported as an :class:`OnErrorAnswerError`.
"""


class Succeeded(msgspec.Struct, Generic[T], frozen=True):
    """The execution returned ``value`` at attempt ``attempts``."""

    value: T
    attempts: int


class Suppressed(msgspec.Struct, frozen=True):
    """``on_error`` answered SUPPRESS: the event is dropped without a broker error."""

    error: Exception
    attempts: int


class Failed(msgspec.Struct, frozen=True):
    """The event failed for good.

    ``reason`` is ``"exhausted"`` (no attempt left), ``"thrown"`` (on_error said THROW
    or could not decide), ``"closing"`` (the broker closed during a backoff) or
    ``"aborted"`` (the execution raised a ``BaseException`` that is not an
    ``Exception``, wrapped in a :class:`HandlerAbortedError`; on_error is not asked).
    """

    error: Exception
    attempts: int
    reason: str


class Deferred(msgspec.Struct, frozen=True):
    """Attempt ``attempts`` failed and another is due in ``delay_s`` s, not run here."""

    error: Exception
    attempts: int
    delay_s: float


def run_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    event: Any,
    closing: threading.Event,
    on_error: RetryDecider | None = None,
    sleep: Callable[[float], object] | None = None,
    first_attempt: int = 1,
    defer: bool = False,
) -> Succeeded[T] | Suppressed | Failed | Deferred:
    """Run ``call`` until it succeeds, ``on_error`` stops it, or the policy gives up.

    Blocks the calling thread for the executions and the backoffs. ``on_error`` is
    called once per failed attempt; without one every failure is retried. The default
    ``sleep`` waits on ``closing``, so setting it ends a backoff at once.
    ``first_attempt`` numbers the first execution (an event redelivered by a database
    has run before); ``defer=True`` returns :class:`Deferred` instead of waiting for a
    retry, which the caller schedules.
    """
    nap = sleep if sleep is not None else tenacity.nap.sleep_using_event(closing)
    attempt = first_attempt
    while True:
        try:
            return Succeeded(call(), attempt)
        except Exception as error:  # noqa: BLE001 - user code may raise anything
            failure: Exception = error
        except BaseException as abort:  # noqa: BLE001 - see HandlerAbortedError
            # A cancellation or exit request, not a transient failure: never retried.
            return Failed(HandlerAbortedError(abort, event), attempt, "aborted")
        outcome = _after_failure(failure, attempt, policy, event, on_error)
        if outcome is not None:
            return outcome
        if defer:
            return Deferred(failure, attempt, policy.delay_s(attempt))
        nap(policy.delay_s(attempt))
        if closing.is_set():
            return Failed(failure, attempt, "closing")
        attempt += 1


def _after_failure(
    error: Exception, attempt: int, policy: RetryPolicy, event: Any, on_error: RetryDecider | None
) -> Suppressed | Failed | None:
    """The final outcome after a failed attempt, or None to retry."""
    try:
        decision = _decide(error, policy.info(attempt, event), on_error)
    except Exception as undecided:  # noqa: BLE001 - a broken on_error must not kill the worker
        return Failed(undecided, attempt, "thrown")
    if decision is ErrorDecision.SUPPRESS:
        return Suppressed(error, attempt)
    if decision is ErrorDecision.THROW:
        return Failed(error, attempt, "thrown")
    if policy.gives_up_after(attempt):
        return Failed(error, attempt, "exhausted")
    return None


def _decide(error: Exception, info: RetryInfo, on_error: RetryDecider | None) -> ErrorDecision:
    if on_error is None:
        return ErrorDecision.RETRY
    answer = on_error(error, info)
    if answer is None:
        return ErrorDecision.RETRY
    if isinstance(answer, str) and answer in _DECISIONS:
        return ErrorDecision(answer)
    close = getattr(answer, "close", None)
    if callable(close):  # an un-awaited coroutine: close it so it warns no "never awaited"
        close()
    raise OnErrorAnswerError(answer, error)


_DECISIONS = frozenset(d.value for d in ErrorDecision)
