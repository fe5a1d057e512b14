"""Deep copies of workflow states, fast.

``copy.deepcopy`` pays for its generality in Python-level recursion, and a workflow
step copies its state twice (read and write). A pickle round trip makes the same
independent copy in C, several times faster on a resumable's record, with the same
semantics for the values a state holds: exact types (tuples, sets,
enums, Structs, subclasses), and shared sub-objects kept shared within the copy.
Values pickle cannot handle (lambdas, locks, classes defined inside functions) go
through ``copy.deepcopy`` as before. Only bytes this module just produced are
unpickled, never outside input. Values of an immutable built-in type (None, the
absent state, most often) are their own copy, as ``copy.deepcopy`` has it.
"""

from __future__ import annotations

import copy
import pickle
from typing import TypeVar

__all__ = ["copy_state"]

T = TypeVar("T")

# Exact types only: a subclass may carry mutable attributes.
_IMMUTABLE: frozenset[type] = frozenset({type(None), bool, int, float, str, bytes})


def copy_state(value: T) -> T:
    """An independent deep copy of ``value``, with the same types throughout. Thread-safe."""
    if type(value) in _IMMUTABLE:
        return value
    try:
        clone: T = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return copy.deepcopy(value)
    return clone
