"""Log records about an event carry its id, type, subject, topic and attempt as ``extra``."""

from __future__ import annotations

import logging

import pytest

import arvo_concurrent.postgres  # noqa: F401 - its loggers exist once imported
from arvo_concurrent import (
    ArvoEvent,
    ConcurrentMachineMemory,
    create_arvo_event,
    create_arvo_event_handler,
    create_concurrent_event_broker,
)
from arvo_concurrent.observability import EVENT_LOG_FIELDS, LOGGERS, event_log_fields
from tests.observability.workflow import (
    CLIENT,
    SERVICE,
    WORKFLOW,
    service_contract,
    start,
    workflow,
)

WAIT_S = 30.0
TOPIC = "com.test.logging"


def _event() -> ArvoEvent:
    return create_arvo_event(type=TOPIC, source="test.logging", subject="subject-1", data={})


class Failing:
    source = TOPIC

    def execute(self, event: ArvoEvent) -> list[ArvoEvent]:
        raise TimeoutError("no answer")


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in EVENT_LOG_FIELDS}


def _expected(event: ArvoEvent, attempt: int | None) -> dict[str, object]:
    return {
        "event_id": event.id,
        "event_type": TOPIC,
        "event_subject": "subject-1",
        "topic": TOPIC,
        "attempt": attempt,
    }


def test_an_unreported_failure_is_logged_with_the_events_fields(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    event = _event()
    handlers = [{"handler": Failing(), "retry": {"max_retries": 1}}]
    with (
        caplog.at_level(logging.ERROR, logger="arvo_concurrent.broker"),
        create_concurrent_event_broker(handlers, sleep=lambda seconds: None) as handle,
    ):
        handle.broker.publish(event)
        handle.broker.wait_for_idle(WAIT_S)
    [record] = [r for r in caplog.records if r.name == "arvo_concurrent.broker"]
    assert record.levelno == logging.ERROR
    assert _fields(record) == _expected(event, 2)  # failed after two executions
    assert "no answer" in capsys.readouterr().err  # the once-per-kind stderr line


def test_a_suppressed_failure_is_logged_at_info_with_its_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = _event()
    handlers = [{"handler": Failing(), "on_error": lambda error, info: "SUPPRESS"}]
    with (
        caplog.at_level(logging.INFO, logger="arvo_concurrent"),
        create_concurrent_event_broker(handlers) as handle,
    ):
        handle.broker.publish(event)
        handle.broker.wait_for_idle(WAIT_S)
    [record] = [r for r in caplog.records if r.getMessage().startswith("Suppressed")]
    assert record.name == "arvo_concurrent.broker.pipeline"
    assert record.levelno == logging.INFO
    assert _fields(record) == _expected(event, 1)


def test_every_logger_of_the_library_is_in_the_documented_tree() -> None:
    library = [
        name
        for name in logging.root.manager.loggerDict
        if name == "arvo_concurrent" or name.startswith("arvo_concurrent.")
    ]
    assert library
    for name in library:
        assert any(name == root or name.startswith(root + ".") for root in LOGGERS), name
    assert set(LOGGERS) - {"arvo_concurrent"} <= {".".join(name.split(".")[:2]) for name in library}


def test_event_log_fields_of_an_object_without_event_fields_are_none() -> None:
    assert event_log_fields(object(), topic="t", attempt=2) == {
        "event_id": None,
        "event_type": None,
        "event_subject": None,
        "topic": "t",
        "attempt": 2,
    }


def test_the_arvo_layers_records_name_the_event_and_the_handler_topic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(data: object) -> dict[str, object]:
        raise ArithmeticError("cannot double")

    service = create_arvo_event_handler(contract=service_contract, handler={"1.0.0": broken})
    failing_start = start(-1)
    with (
        caplog.at_level(logging.WARNING, logger="arvo_concurrent.arvo"),
        ConcurrentMachineMemory() as memory,
        create_concurrent_event_broker(
            [{"handler": workflow(memory)}, {"handler": service}]
        ) as handle,
    ):
        failed = handle.resolve(failing_start, timeout=WAIT_S)
        request = create_arvo_event(type=SERVICE, source=CLIENT, subject="s", data={"n": 1})
        reply = handle.resolve(request, timeout=WAIT_S)
    assert failed.type == f"sys.{WORKFLOW}.error"
    assert reply.type == f"sys.{SERVICE}.error"

    [workflow_failed] = [r for r in caplog.records if r.getMessage().startswith("Workflow")]
    assert workflow_failed.levelno == logging.ERROR
    assert workflow_failed.name == "arvo_concurrent.arvo.orchestration_wrapper"
    assert _fields(workflow_failed) == {
        "event_id": failing_start.id,
        "event_type": WORKFLOW,
        "event_subject": failing_start.subject,
        "topic": WORKFLOW,
        "attempt": None,
    }
    [handler_failed] = [r for r in caplog.records if r.getMessage().startswith("Handler")]
    assert handler_failed.levelno == logging.WARNING
    assert _fields(handler_failed) == {
        "event_id": request.id,
        "event_type": SERVICE,
        "event_subject": "s",
        "topic": SERVICE,
        "attempt": None,
    }
