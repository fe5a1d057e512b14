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


def handle_add(data: Any) -> dict[str, Any]:
    """A handler function, as given to create_arvo_event_handler: not a factory."""
    return {"type": "evt.add.success", "data": {"result": sum(data.numbers)}}


HANDLER = Failing()
