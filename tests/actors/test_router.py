"""Router: the serialized owner of the topic -> pool table."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from arvo_concurrent.actors.messages import Install, Remove, RemoveAll, Seal
from arvo_concurrent.actors.pool import HandlerPool
from arvo_concurrent.actors.router import InstallOutcome, Router, RouteTable

WAIT_S = 5.0

Running = tuple[pykka.ActorRef[Router], RouteTable]


def _pool(topic: str) -> HandlerPool:
    return HandlerPool(topic, 1, lambda item: None, lambda item: None)


@pytest.fixture
def router() -> Iterator[Running]:
    table = RouteTable()
    ref = Router.start(table)
    yield ref, table
    ref.stop(timeout=WAIT_S)


def test_install_publishes_a_new_read_only_table(router: Running) -> None:
    ref, table = router
    before = table.pools
    pool = _pool("a")
    assert ref.ask(Install("a", pool), timeout=WAIT_S) is InstallOutcome.INSTALLED
    assert dict(table.pools) == {"a": pool}
    assert dict(before) == {}, "a published table is never mutated"
    with pytest.raises(TypeError):
        table.pools["b"] = _pool("b")  # type: ignore[index]


def test_second_install_of_a_topic_conflicts(router: Running) -> None:
    ref, table = router
    first = _pool("a")
    ref.ask(Install("a", first), timeout=WAIT_S)
    assert ref.ask(Install("a", _pool("a")), timeout=WAIT_S) is InstallOutcome.CONFLICT
    assert table.pools["a"] is first


def test_remove_only_removes_the_installed_pool(router: Running) -> None:
    ref, table = router
    old, new = _pool("a"), _pool("a")
    ref.ask(Install("a", old), timeout=WAIT_S)
    assert ref.ask(Remove("a", old), timeout=WAIT_S) is True
    ref.ask(Install("a", new), timeout=WAIT_S)
    assert ref.ask(Remove("a", old), timeout=WAIT_S) is False
    assert table.pools["a"] is new


def test_remove_all_and_seal(router: Running) -> None:
    ref, table = router
    a, b = _pool("a"), _pool("b")
    ref.ask(Install("a", a), timeout=WAIT_S)
    ref.ask(Install("b", b), timeout=WAIT_S)
    assert ref.ask(RemoveAll(), timeout=WAIT_S) == [a, b]
    assert dict(table.pools) == {}
    ref.ask(Install("c", _pool("c")), timeout=WAIT_S)
    assert list(table.pools) == ["c"]
    assert ref.ask(Seal(), timeout=WAIT_S) is None
    assert dict(table.pools) == {}
    assert ref.ask(Install("d", _pool("d")), timeout=WAIT_S) is InstallOutcome.SEALED
    assert dict(table.pools) == {}


def test_unknown_message_is_ignored_and_the_router_lives(router: Running) -> None:
    ref, _ = router
    assert ref.ask("hello", timeout=WAIT_S) is None
    assert ref.ask(Install("a", _pool("a")), timeout=WAIT_S) is InstallOutcome.INSTALLED
