from __future__ import annotations

from typing import Any

import pytest

from arvo_concurrent.broker.middleware import (
    Middleware,
    MiddlewareError,
    apply_input,
    apply_output,
)


def test_input_chain_feeds_each_result_to_the_next_and_none_keeps_the_event() -> None:
    seen: list[Any] = []
    mw = Middleware.of({"input": [lambda e: e + 1, seen.append, lambda e: e * 10]})
    assert apply_input(mw.input, 1) == 20
    assert seen == [2]


def test_a_single_input_function_is_accepted() -> None:
    assert apply_input(Middleware.of({"input": lambda e: e.upper()}).input, "a") == "A"


def test_per_event_output_chain_runs_for_every_output_with_the_input() -> None:
    calls: list[tuple[str, int]] = []

    def tag(source: str, output: int) -> int:
        calls.append((source, output))
        return output * 10

    mw = Middleware.of({"output": [tag, lambda s, o: None]})
    assert apply_output(mw.output, "in", [1, 2]) == [10, 20]
    assert calls == [("in", 1), ("in", 2)]


def test_bulk_output_sees_all_outputs_and_none_keeps_them() -> None:
    bulk = Middleware.of({"output": lambda source, outs: [o + 100 for o in outs]})
    assert apply_output(bulk.output, "in", [1, 2]) == [101, 102]
    keep = Middleware.of({"output": lambda source, outs: None})
    assert apply_output(keep.output, "in", [1, 2]) == [1, 2]


def test_no_middleware_is_identity() -> None:
    mw = Middleware.of(None)
    assert apply_input(mw.input, "e") == "e"
    assert apply_output(mw.output, "e", ["x"]) == ["x"]


def test_a_raising_middleware_is_reported_with_its_stage_event_and_cause() -> None:
    def boom(event: str) -> str:
        raise KeyError("nope")

    with pytest.raises(MiddlewareError, match="input middleware failed") as info:
        apply_input(Middleware.of({"input": [boom]}).input, "the-event")
    assert info.value.event == "the-event"
    assert isinstance(info.value.__cause__, KeyError)

    def boom_out(source: str, output: str) -> str:
        raise ValueError("bad output")

    with pytest.raises(MiddlewareError, match="output middleware failed"):
        apply_output(Middleware.of({"output": [boom_out]}).output, "in", ["x"])


def test_bulk_middleware_must_return_a_list() -> None:
    mw = Middleware.of({"output": lambda source, outs: "nope"})
    with pytest.raises(MiddlewareError, match="must return a list"):
        apply_output(mw.output, "in", ["x"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"inputs": []}, "Unknown middleware keys"),
        ({"input": [1]}, "middleware.input must hold functions"),
        ({"output": "x"}, "middleware.output must be a function or a list"),
        ([], "middleware must be a dict"),
    ],
)
def test_bad_middleware_config_is_named(config: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        Middleware.of(config)
