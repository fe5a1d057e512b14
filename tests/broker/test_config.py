from __future__ import annotations

from typing import Any

import pytest

from arvo_concurrent.arvo import (
    ConfigViolation,
    ContractViolation,
    ExecutionViolation,
    TransactionCause,
    TransactionViolation,
)
from arvo_concurrent.broker.config import (
    HandlerConfig,
    default_on_error,
    resolve_handler_config,
)
from arvo_concurrent.broker.retry import RetryPolicy


class Handler:
    source = "com.test.handler"

    def execute(self, event: Any) -> list[Any]:
        return []


def first(event: Any) -> Any:
    return event


def second(event: Any) -> Any:
    return event


def test_library_defaults_apply_when_nothing_is_set() -> None:
    cfg = resolve_handler_config({"handler": Handler()}, None)
    assert cfg.prefetch == 1
    assert cfg.retry == RetryPolicy(max_retries=3, initial_delay_ms=100, backoff_exponent=1.5)
    assert cfg.on_error is default_on_error
    assert cfg.middleware.input == ()


def test_default_handler_config_fills_every_field_including_prefetch() -> None:
    def on_error(e: BaseException, i: Any) -> str:
        return "THROW"

    default = {
        "prefetch": 4,
        "retry": {"max_retries": 1},
        "on_error": on_error,
        "middleware": {"input": [first]},
    }
    cfg = resolve_handler_config({"handler": Handler()}, default)
    assert cfg.prefetch == 4
    assert cfg.retry.max_retries == 1
    assert cfg.on_error is on_error
    assert cfg.middleware.input == (first,)


def test_handler_fields_override_defaults_field_by_field() -> None:
    default = {
        "prefetch": 4,
        "retry": {"max_retries": 1, "initial_delay_ms": 5},
        "middleware": {"input": [first], "output": [second]},
    }
    entry = {
        "handler": Handler(),
        "prefetch": 2,
        "retry": {"initial_delay_ms": 50},
        "middleware": {"input": [second]},
    }
    cfg = resolve_handler_config(entry, default)
    assert cfg.prefetch == 2
    assert (cfg.retry.max_retries, cfg.retry.initial_delay_ms) == (1, 50)
    assert cfg.middleware.input == (second,)
    assert cfg.middleware.output == (second,)


def test_typed_config_works_like_a_dict() -> None:
    # Handler has no system_error_schema: the broker needs only source and execute.
    typed = HandlerConfig(handler=Handler(), prefetch=7)  # type: ignore[arg-type]
    cfg = resolve_handler_config(typed, HandlerConfig(retry={"max_retries": 0}))
    assert (cfg.prefetch, cfg.retry.max_retries) == (7, 0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"handler": Handler(), "prefetch": 0}, "prefetch must be a positive integer, got 0"),
        ({"handler": Handler(), "prefetch": True}, "prefetch must be a positive integer"),
        ({"handler": Handler(), "prefech": 2}, r"Unknown key\(s\) \['prefech'\]"),
        ({"handler": Handler(), "retry": {"retries": 2}}, r"Unknown key\(s\) \['retries'\]"),
        ({"handler": Handler(), "retry": {"max_retries": -1}}, "retry.max_retries must be"),
        ({"handler": Handler(), "on_error": "THROW"}, "on_error must be a function"),
        ({"handler": object()}, "needs 'handler'"),
        ({}, "needs 'handler'"),
    ],
)
def test_bad_config_names_what_is_wrong(entry: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        resolve_handler_config(entry, None)


def test_a_handler_key_in_the_defaults_is_refused() -> None:
    with pytest.raises(ValueError, match="default_handler_config"):
        resolve_handler_config({"handler": Handler()}, {"handler": Handler()})


def test_default_on_error_throws_deterministic_violations_and_retries_the_rest() -> None:
    info = RetryPolicy().info(1, None)
    for error in (ContractViolation("bad"), ConfigViolation("bad"), ExecutionViolation("bad")):
        assert default_on_error(error, info) == "THROW"
    lock = TransactionViolation(TransactionCause.LOCK_UNACQUIRED, "busy")
    assert default_on_error(lock, info) == "RETRY"
    assert default_on_error(RuntimeError("flaky"), info) == "RETRY"
