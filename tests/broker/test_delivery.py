"""The unit of work on the event's way: publisher_for, publish_hop and Delivery."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from arvo_concurrent.broker import ConcurrentEventBroker, LineagePublisher, WorkTracker
from arvo_concurrent.broker.delivery import Delivery, Subscription
from arvo_concurrent.broker.errors import HopLimitError
from arvo_concurrent.broker.tracking import acquire
from arvo_concurrent.errors import ArgumentError
from tests.broker.support import WAIT_S, Errors, Ev


def test_publisher_for_publishes_in_its_lineage_and_the_handler_gets_it() -> None:
    seen: list[tuple[Ev, Any]] = []

    def handler(event: Ev, publish: Any) -> None:
        seen.append((event, publish))

    with ConcurrentEventBroker() as broker:
        broker.subscribe(handler, topic="t")
        mine = WorkTracker()
        lineage = (broker.tracker, mine)
        publisher = broker.publisher_for(lineage)
        assert isinstance(publisher, LineagePublisher)
        assert publisher.lineage is lineage
        assert publisher.broker is broker
        publisher(Ev(to="t", id=1))
        assert mine.wait_idle(WAIT_S)
    [(event, publish)] = seen
    assert event == Ev(to="t", id=1)
    # The handler's publish is the lineage's own publisher, hop count included.
    assert publish is publisher


def test_a_lineage_publisher_counts_its_hops_against_max_hops() -> None:
    errors = Errors()
    ran: list[int] = []
    with ConcurrentEventBroker(on_error=errors, max_hops=3) as broker:
        broker.subscribe(lambda event, publish: ran.append(event.id), topic="t")
        publisher = broker.publisher_for((broker.tracker,))
        for i in range(1, 5):
            broker.publish_hop(Ev(to="t", id=i), publisher)
        broker.wait_for_idle(WAIT_S)
    # Hops 1 and 2 run; 3 and 4 reach max_hops and are reported, not routed.
    assert sorted(ran) == [1, 2]
    assert [type(error) for error in errors.errors] == [HopLimitError, HopLimitError]
    assert [event.id for _, event in errors.calls] == [3, 4]


@pytest.mark.parametrize("lineage", [[], (), (WorkTracker(),), "lineage", None])
def test_publisher_for_refuses_a_lineage_without_the_brokers_tracker(lineage: Any) -> None:
    with ConcurrentEventBroker() as broker:
        with pytest.raises(ArgumentError, match="lineage must be a tuple") as info:
            broker.publisher_for(lineage)
        assert info.value.name == "lineage"
        assert isinstance(info.value, ValueError)


def test_a_delivery_is_the_work_its_subscription_runs_and_settles() -> None:
    ran = threading.Event()
    calls: list[tuple[Any, Any]] = []

    def handler(event: Ev, publish: Any) -> None:
        calls.append((event, publish))
        ran.set()

    with ConcurrentEventBroker() as broker:
        subscription = Subscription(broker, handler, "t", 1)
        mine = WorkTracker()
        lineage = (broker.tracker, mine)
        acquire(lineage)  # as routing does, before it submits
        delivery = Delivery(Ev(to="t", id=7), lineage, None, subscription)
        delivery.run()  # on this thread: the pool would call it on a worker
        assert ran.is_set()
        [(event, publish)] = calls
        assert event == Ev(to="t", id=7)
        assert isinstance(publish, LineagePublisher)
        assert publish.lineage is lineage
        assert mine.pending == 1  # running does not release: settling does
        delivery.settle()
        assert mine.pending == 0
        assert broker.tracker.pending == 0
        subscription.close()
