"""Settings are checked up front, with errors that name the parameter."""

from __future__ import annotations

import math
from typing import Any

import pytest

from arvo_concurrent.errors import ArvoConcurrentError
from arvo_concurrent.memory import ConcurrentMachineMemory, MemoryConfigError
from arvo_concurrent.memory.config import MemoryConfig


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("lock_max_retries", -1),
        ("lock_max_retries", 1.5),
        ("lock_max_retries", True),
        ("lock_max_retries", "3"),
        ("lock_initial_delay_ms", -0.1),
        ("lock_initial_delay_ms", math.inf),
        ("lock_initial_delay_ms", None),
        ("lock_backoff_exponent", 0.5),
        ("lock_backoff_exponent", math.nan),
        ("lock_ttl_ms", 0),
        ("lock_ttl_ms", -5),
        ("lock_ttl_ms", "120000"),
        ("enable_cleanup", 1),
        ("enable_cleanup", "yes"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_parameter(parameter: str, value: Any) -> None:
    with pytest.raises(MemoryConfigError) as caught:
        ConcurrentMachineMemory(**{parameter: value})
    assert caught.value.parameter == parameter
    assert caught.value.value is value or caught.value.value == value
    assert parameter in str(caught.value)
    assert repr(value) in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ArvoConcurrentError)


def test_defaults_are_those_of_the_typescript_package() -> None:
    with ConcurrentMachineMemory() as memory:
        config = memory.config
    assert (
        config.lock_max_retries,
        config.lock_initial_delay_ms,
        config.lock_backoff_exponent,
        config.lock_ttl_ms,
        config.enable_cleanup,
    ) == (3, 100.0, 1.5, 120_000.0, True)


@pytest.mark.parametrize(
    ("retries", "initial_ms", "exponent", "budget_s"),
    [
        (0, 100, 1.5, 0.0),  # one try, no wait
        (1, 100, 1.5, 0.1),
        (3, 50, 2, 0.35),  # 50 + 100 + 200: the TypeScript test's ">= 350 ms"
        (3, 100, 1.5, 0.475),  # 100 + 150 + 225
    ],
)
def test_the_wait_budget_is_the_sum_of_the_backoff_delays(
    retries: int, initial_ms: float, exponent: float, budget_s: float
) -> None:
    config = MemoryConfig.validated(retries, initial_ms, exponent, 1000, True)
    assert config.wait_budget_s == pytest.approx(budget_s)


@pytest.mark.parametrize(
    ("retries", "ttl_ms", "limit_s"),
    [
        (0, 120_000, 0.0),  # one try, no wait, whatever the TTL
        (3, 120_000, 120.0),  # the TTL bounds a wait that the queue's progress prolongs
        (3, 125, 0.475),  # a TTL shorter than the budget does not cut the budget short
    ],
)
def test_the_longest_wait_is_the_ttl_or_the_budget_if_longer(
    retries: int, ttl_ms: float, limit_s: float
) -> None:
    config = MemoryConfig.validated(retries, 100, 1.5, ttl_ms, True)
    assert config.wait_limit_s == pytest.approx(limit_s)
