from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.observability.support import Recorded, recorded


@pytest.fixture
def otel() -> Iterator[Recorded]:
    yield from recorded()
