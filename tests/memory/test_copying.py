from __future__ import annotations

import collections
import datetime as dt
import enum
import math
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arvo_concurrent.memory.copying import copy_state

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


def containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(c for v in value.values() for c in containers(v))]
    if isinstance(value, list):
        return [value, *(c for v in value for c in containers(v))]
    return []


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_like, max_size=5))
def test_a_json_like_state_copies_equal_and_shares_no_container(state: dict[str, Any]) -> None:
    clone = copy_state(state)
    assert clone == state
    originals = {id(c) for c in containers(state)}
    assert not originals & {id(c) for c in containers(clone)}


class Point(msgspec.Struct):
    x: int


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        {"nested": {"colour": Colour.RED}},
        {"ordered": collections.OrderedDict(a=1)},
        {"huge": 2**70},
        {"pair": (1, 2)},
        {"tags": {"a", "b"}},
        {"point": Point(1)},
        {"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        {"blob": b"\x00\x01"},
        {1: "int key"},
    ],
)
def test_values_outside_json_keep_their_types(value: dict[Any, Any]) -> None:
    clone = copy_state(value)
    assert clone == value
    assert types_of(clone) == types_of(value)


def types_of(value: Any) -> list[type]:
    if isinstance(value, dict):
        return [type(value), *(t for k, v in value.items() for t in (type(k), *types_of(v)))]
    if isinstance(value, list | tuple):
        return [type(value), *(t for v in value for t in types_of(v))]
    return [type(value)]


def test_shared_sub_objects_stay_shared_inside_the_copy_only() -> None:
    shared = {"n": 1}
    value = {"a": shared, "b": shared}
    clone = copy_state(value)
    assert clone["a"] is clone["b"]
    assert clone["a"] is not shared


def test_nan_and_objects_pickle_cannot_handle_still_copy_deeply() -> None:
    class Box:
        def __init__(self) -> None:
            self.items = [1]

    value: dict[str, Any] = {"nan": math.nan, "box": Box(), "fn": lambda: 1}
    clone = copy_state(value)
    assert math.isnan(clone["nan"])
    assert clone["box"] is not value["box"]
    assert clone["box"].items == [1]
    assert clone["box"].items is not value["box"].items
    assert clone["fn"]() == 1


@pytest.mark.parametrize("value", [None, True, 7, 2**70, 1.5, "text", b"bytes"])
def test_a_value_of_an_immutable_builtin_type_is_its_own_copy(value: object) -> None:
    assert copy_state(value) is value


def test_a_subclass_of_an_immutable_type_is_still_copied() -> None:
    class Tagged(str):
        pass

    value = Tagged("x")
    value.tags = ["a"]  # type: ignore[attr-defined]
    clone = copy_state(value)
    assert clone is not value
    assert (type(clone), clone) == (Tagged, value)
    assert clone.tags == ["a"]  # type: ignore[attr-defined]
    assert clone.tags is not value.tags  # type: ignore[attr-defined]
