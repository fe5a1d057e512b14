"""PoolWorker: enlists on start, serves dispatched items, survives what escapes."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest

from arvo_concurrent.actors.messages import Dispatch
from arvo_concurrent.actors.worker import PoolWorker, current_host, current_worker

WAIT_S = 5.0


class Host:
    """A stand-in pool that records what its worker does."""

    def __init__(self, fail_on: object = None) -> None:
        self.enlisted = threading.Event()
        self.served: list[tuple[Any, pykka.ActorRef[PoolWorker] | None]] = []
        self.hosts: list[object] = []
        self.served_event = threading.Event()
        self.fail_on = fail_on
        self.worker: pykka.ActorRef[PoolWorker] | None = None

    def enlist(self, worker: pykka.ActorRef[PoolWorker]) -> None:
        self.worker = worker
        self.enlisted.set()

    def serve(self, item: Any, worker: pykka.ActorRef[PoolWorker]) -> None:
        if item == self.fail_on:
            raise RuntimeError(f"cannot serve {item!r}")
        self.served.append((item, current_worker()))
        self.hosts.append(current_host())
        self.served_event.set()


def test_worker_enlists_and_knows_itself_and_its_host_only_on_its_thread() -> None:
    host = Host()
    ref = PoolWorker.start(host)
    try:
        assert host.enlisted.wait(WAIT_S)
        assert host.worker is ref
        assert current_worker() is None
        assert current_host() is None
        ref.tell(Dispatch("x"))
        assert host.served_event.wait(WAIT_S)
        assert host.served == [("x", ref)]
        assert host.hosts == [host]
    finally:
        ref.stop(timeout=WAIT_S)


def test_worker_survives_a_failing_serve_and_an_unknown_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = Host(fail_on="bad")
    ref = PoolWorker.start(host)
    try:
        with caplog.at_level(logging.WARNING, logger="arvo_concurrent.actors.worker"):
            ref.tell(Dispatch("bad"))
            ref.tell("not a dispatch")
            ref.tell(Dispatch("good"))
            assert host.served_event.wait(WAIT_S)
        assert ref.is_alive()
        assert [item for item, _ in host.served] == ["good"]
        messages = [r.getMessage() for r in caplog.records]
        assert any("serving 'bad' failed" in m for m in messages)
        assert any("ignored an unexpected message" in m for m in messages)
    finally:
        ref.stop(timeout=WAIT_S)


def test_worker_survives_a_failing_enlist(caplog: pytest.LogCaptureFixture) -> None:
    class BadHost(Host):
        def enlist(self, worker: pykka.ActorRef[PoolWorker]) -> None:
            raise RuntimeError("no room")

    host = BadHost()
    with caplog.at_level(logging.ERROR, logger="arvo_concurrent.actors.worker"):
        ref = PoolWorker.start(host)
        ref.tell(Dispatch("x"))
        assert host.served_event.wait(WAIT_S)
    try:
        assert any("could not enlist" in r.getMessage() for r in caplog.records)
    finally:
        ref.stop(timeout=WAIT_S)


class CustomAbort(BaseException):
    """A BaseException that is not an Exception."""


class Echo(pykka.ThreadingActor):
    """An unrelated actor: Pykka stops every actor when a BaseException escapes one."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        return message


def test_a_base_exception_from_serve_stops_neither_the_worker_nor_other_actors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class AbortingHost(Host):
        def serve(self, item: Any, worker: pykka.ActorRef[PoolWorker]) -> None:
            if item == "abort":
                raise CustomAbort("cancelled")
            super().serve(item, worker)

    host = AbortingHost()
    echo = Echo.start()
    ref = PoolWorker.start(host)
    try:
        with caplog.at_level(logging.ERROR, logger="arvo_concurrent.actors.worker"):
            ref.tell(Dispatch("abort"))
            ref.tell(Dispatch("after"))
            assert host.served_event.wait(WAIT_S)
        assert [item for item, _ in host.served] == ["after"]
        assert ref.is_alive()
        assert echo.ask("alive?", timeout=WAIT_S) == "alive?"
        assert any("serving 'abort' failed" in r.getMessage() for r in caplog.records)
    finally:
        ref.stop(timeout=WAIT_S)
        echo.stop(timeout=WAIT_S)
