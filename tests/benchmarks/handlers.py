"""Handler factories for the tuning-mode tests."""

from __future__ import annotations

from typing import Any

NOT_A_FACTORY = 42


class Failing:
    """Raises on events whose key is odd; emits nothing."""

    source = "com.test.flaky"

    def execute(self, event: Any) -> list[Any]:
        if int(event.data["n"]) % 2:
            raise RuntimeError("odd event")
        return []


def flaky() -> Failing:
    return Failing()


def no_source() -> object:
    return object()
