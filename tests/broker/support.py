"""Helpers shared by the broker tests: stand-in events and handlers, recording callbacks."""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from arvo_concurrent.arvo import ArvoEvent, create_arvo_event
from tests.arvo.handlers import TEST_SOURCE

WAIT_S = 5.0


class Ev(msgspec.Struct, frozen=True):
    """A stand-in event, like the TypeScript tests' ``{id, type: 'test', to}``."""

    to: Any
    id: int = 0
    type: str = "test"


class Errors:
    """A thread-safe ``on_error`` that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Exception, Any]] = []
        self._cond = threading.Condition()

    def __call__(self, error: Exception, event: Any) -> None:
        with self._cond:
            self.calls.append((error, event))
            self._cond.notify_all()

    def wait_for(self, n: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= n, WAIT_S)

    @property
    def errors(self) -> list[Exception]:
        return [error for error, _ in self.calls]

    @property
    def messages(self) -> list[str]:
        return [str(error) for error, _ in self.calls]


class Counter:
    """A thread-safe counter of handler runs, optionally held on a gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.count = 0
        self.events: list[Any] = []
        self.gate = gate
        self._cond = threading.Condition()

    def __call__(self, event: Any, publish: Any) -> None:
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        with self._cond:
            self.count += 1
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, n: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, WAIT_S)


class ScriptedHandler:
    """A handler whose execute runs ``script(event)``; the test decides what happens."""

    def __init__(self, source: str, script: Any) -> None:
        self.source = source
        self._script = script

    def execute(self, event: Any) -> list[Any]:
        result: list[Any] = self._script(event)
        return result


def reply(event: ArvoEvent, **fields: Any) -> ArvoEvent:
    base = {
        "type": "evt.test.reply.done",
        "source": "com.test.scripted",
        "subject": event.subject,
        "data": {},
        "to": event.source,
        "parentid": event.id,
    }
    return create_arvo_event(**{**base, **fields})


def scripted_event(source: str = TEST_SOURCE, **data: Any) -> ArvoEvent:
    return create_arvo_event(
        type="com.test.scripted",
        source=source,
        subject="scripted-subject",
        data=data,
    )
