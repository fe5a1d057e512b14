"""Helpers of the backend-parametrised memory suite."""

from __future__ import annotations

from typing import Any

# A lease long enough that a refused request's budget (one 100 ms retry) ends first.
TTL_MS = 300
SHORT_WAIT = {"lock_max_retries": 1, "lock_initial_delay_ms": 100, "lock_ttl_ms": TTL_MS}


def lock_after_expiry(memory: Any, machine_id: str, owner: str, tries: int = 50) -> bool:
    """Lock, retrying budget after budget until the lease in force has expired.

    No sleep: each refused ``lock`` waited its budget. False when still refused after
    ``tries`` budgets (far beyond one TTL).
    """
    return any(memory.lock(machine_id, owner=owner) for _ in range(tries))
