"""The validated settings of a :class:`ConcurrentMachineMemory`."""

from __future__ import annotations

import math

import msgspec
from msgspec.structs import force_setattr

from arvo_concurrent.memory.errors import MemoryConfigError

__all__ = ["MemoryConfig"]

# The number fields: (name, minimum, whether the minimum itself is allowed).
_NUMBERS = (
    ("lock_initial_delay_ms", 0.0, True),
    ("lock_backoff_exponent", 1.0, True),
    ("lock_ttl_ms", 0.0, False),
)


def _check_number(parameter: str, value: object, minimum: float, inclusive: bool) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and (number >= minimum if inclusive else number > minimum):
            return number
    bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
    raise MemoryConfigError(parameter, value, f"a finite number {bound}")


class MemoryConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Lock retry budget, lease TTL and cleanup switch, checked once at construction.

    Like every configuration of the library, a frozen Struct whose ``__post_init__``
    checks each field (the numbers are stored as floats).

    Attributes:
        lock_max_retries: retries after the first lock attempt.
        lock_initial_delay_ms: the wait before the first retry.
        lock_backoff_exponent: each further wait is this many times the previous one.
        lock_ttl_ms: how long a lease lasts before it expires.
        enable_cleanup: whether ``cleanup(id)`` deletes anything.
    """

    lock_max_retries: int
    lock_initial_delay_ms: float
    lock_backoff_exponent: float
    lock_ttl_ms: float
    enable_cleanup: bool

    def __post_init__(self) -> None:
        """Check every field, in declaration order but ``enable_cleanup`` second.

        Raises:
            MemoryConfigError: naming the first parameter whose value is wrong.
        """
        retries: object = self.lock_max_retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise MemoryConfigError("lock_max_retries", retries, "an int >= 0")
        cleanup: object = self.enable_cleanup
        if not isinstance(cleanup, bool):
            raise MemoryConfigError("enable_cleanup", cleanup, "a bool")
        for name, minimum, inclusive in _NUMBERS:
            force_setattr(self, name, _check_number(name, getattr(self, name), minimum, inclusive))

    @classmethod
    def validated(
        cls,
        lock_max_retries: int,
        lock_initial_delay_ms: float,
        lock_backoff_exponent: float,
        lock_ttl_ms: float,
        enable_cleanup: bool,
    ) -> MemoryConfig:
        """The config of the memories' arguments, in their order; checked as any other.

        Raises:
            MemoryConfigError: naming the first parameter whose value is wrong.
        """
        return cls(
            lock_max_retries=lock_max_retries,
            lock_initial_delay_ms=lock_initial_delay_ms,
            lock_backoff_exponent=lock_backoff_exponent,
            lock_ttl_ms=lock_ttl_ms,
            enable_cleanup=enable_cleanup,
        )

    @property
    def wait_budget_s(self) -> float:
        """How long a ``lock`` waits without the lock changing hands, in seconds.

        The sum of the backoff delays: ``lock_max_retries=n`` allows 1 + n attempts with
        ``initial * exponent**i`` between attempt i and i + 1 and no wait after the
        last, so the budget is the sum for i < n. A parked waiter is granted the lock as
        soon as it frees, and its budget restarts whenever the lock is handed to the
        waiter ahead of it (see :attr:`wait_limit_s`).
        """
        delays_ms = (
            self.lock_initial_delay_ms * self.lock_backoff_exponent**i
            for i in range(self.lock_max_retries)
        )
        return sum(delays_ms) / 1000.0

    @property
    def wait_limit_s(self) -> float:
        """The longest a ``lock`` waits in all, in seconds.

        The lease TTL (or the budget, when that is longer), however often the lock
        changes hands meanwhile; 0 when the budget is 0 (one try, no wait).
        """
        budget = self.wait_budget_s
        return max(budget, self.lock_ttl_s) if budget > 0 else 0.0

    @property
    def lock_ttl_s(self) -> float:
        """The lease TTL in seconds."""
        return self.lock_ttl_ms / 1000.0
