"""Fixtures of the broker tests: a broker whose on_error records every call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arvo_concurrent.broker import ConcurrentEventBroker
from tests.broker.support import Errors


@pytest.fixture
def errors() -> Errors:
    return Errors()


@pytest.fixture
def broker(errors: Errors) -> Iterator[ConcurrentEventBroker]:
    with ConcurrentEventBroker(on_error=errors) as b:
        yield b
