"""The orchestration wrapper: one workflow step under the memory's lock.

The model: docs/arvo-model.md §4.3.

Every event a stateful handler gets runs as **subject check -> lock -> read -> guards
-> run -> write -> [cleanup] -> unlock**, keyed by the event's subject:

* the subject must be an orchestration subject (else ExecutionViolation) naming this
  orchestrator (else the event is ignored, without taking the lock);
* a refused lock raises ``TransactionViolation(LOCK_UNACQUIRED)`` so the broker retries;
  memory errors become TransactionViolations with the matching cause;
* a workflow whose record says ``failure`` ignores later events, and so does a workflow
  without state unless the event is its init event;
* violations raised by the core leave the state untouched and propagate; any other
  error writes a failure record (with the state read before as ``prev_data``, unlike
  arvo-event-handler, 8.E1) and returns system error events to the initiator;
* ``cleanup`` (when the memory has one) runs after the final state of a finished
  workflow was written, while the lock is still held; ``unlock`` always runs last;
* a memory with a ``lock_and_read(id) -> (acquired, state)`` (PostgresMachineMemory:
  one round trip instead of two) takes the lock and reads in one call; its failure
  counts as a lock failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from arvo_concurrent.arvo.contract import PARENT_SUBJECT_FIELD
from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import HandlerConfigError, error_payload
from arvo_concurrent.arvo.subject import ArvoOrchestrationSubject, ArvoSubjectError, SubjectContent
from arvo_concurrent.arvo.system_error_emitter import SystemErrorEmitter
from arvo_concurrent.arvo.violations import (
    ExecutionViolation,
    TransactionCause,
    TransactionViolation,
    ViolationError,
)
from arvo_concurrent.memory.errors import FencingError
from arvo_concurrent.memory.interface import IMachineMemory
from arvo_concurrent.observability.active import active_telemetry
from arvo_concurrent.observability.logfields import event_log_fields

__all__ = ["CoreFn", "OrchestrationWrapper", "Step", "StepInput"]

_log = logging.getLogger(__name__)


class StepInput(NamedTuple):
    """What the wrapper hands a workflow's core for one event.

    Attributes:
        event: the event being handled.
        subject: the parsed event subject.
        state: the stored record (None for a new workflow). Never mutate it.
        parent_subject: the parent workflow's subject (child workflows), else None.
        init_event_id: the id of the event that started the workflow.
    """

    event: ArvoEvent
    subject: SubjectContent
    state: dict[str, Any] | None
    parent_subject: str | None
    init_event_id: str


class Step(NamedTuple):
    """What a workflow's core returns for one event.

    Attributes:
        events: the events to emit.
        record: the new record to write, or None to leave the stored one as it is.
        completed: True when the workflow reached its end (cleanup follows the write).
    """

    events: list[ArvoEvent]
    record: dict[str, Any] | None
    completed: bool


CoreFn = Callable[[StepInput], Step]
LockAndRead = Callable[[str], tuple[bool, dict[str, Any] | None]]


class _Unread(Enum):
    """The state not read yet (None is "no state")."""

    UNREAD = 0


_UNREAD = _Unread.UNREAD
Prefetched = dict[str, Any] | None | _Unread


class OrchestrationWrapper:
    """Runs one workflow step under the machine memory's lock (see the module docstring).

    Thread-safe: it keeps no per-event state, so a broker may call :meth:`execute` from
    several threads at once; the memory's lock serialises steps of one workflow.

    Args:
        source: the orchestrator source (``arvo.orc.<name>``).
        memory: the machine memory.
        requires_resource_locking: lock each workflow instance around a step.
        system_errors: builds the workflow's system error events.
    """

    def __init__(
        self,
        *,
        source: str,
        memory: IMachineMemory,
        requires_resource_locking: bool,
        system_errors: SystemErrorEmitter,
    ) -> None:
        for operation in ("read", "write", "lock", "unlock"):
            if not callable(getattr(memory, operation, None)):
                raise HandlerConfigError(
                    "memory",
                    memory,
                    f"memory must implement IMachineMemory; it has no {operation}()",
                )
        self.source = source
        self.memory = memory
        self.requires_resource_locking = requires_resource_locking
        self._system_errors = system_errors
        cleanup = getattr(memory, "cleanup", None)
        self._cleanup: Callable[[str], object] | None = cleanup if callable(cleanup) else None
        lock_and_read = getattr(memory, "lock_and_read", None)
        self._lock_and_read: LockAndRead | None = lock_and_read if callable(lock_and_read) else None

    def execute(self, event: ArvoEvent, core: CoreFn) -> list[ArvoEvent]:
        """Run ``core`` for ``event``; blocks on the memory (lock wait, read, write).

        Raises:
            ViolationError: from the subject check, the memory or the core.
        """
        subject = _parse_subject(event)
        if subject.orchestrator.name != self.source:
            _log.warning(
                "Ignoring event %s: its subject names orchestrator %r, not %r",
                event.id,
                subject.orchestrator.name,
                self.source,
                extra=self._about(event),
            )
            return []
        locked, state = self._lock(event)
        try:
            return self._run(event, subject, core, state)
        finally:
            if locked:
                self._unlock(event)

    def _run(
        self, event: ArvoEvent, subject: SubjectContent, core: CoreFn, read: Prefetched
    ) -> list[ArvoEvent]:
        state = self._read(event) if isinstance(read, _Unread) else read
        parent_subject: str | None = None
        init_event_id = event.id
        try:
            if state is not None:
                if state.get("executionStatus") == "failure":
                    _log.warning(
                        "Ignoring event %s: workflow %s has failed",
                        event.id,
                        event.subject,
                        extra=self._about(event),
                    )
                    return []
                parent_subject = state.get("parentSubject")
                init_event_id = state.get("initEventId") or event.id
            elif event.type != self.source:
                # Routine after cleanup (late replies), so not worth a warning.
                _log.info(
                    "Ignoring event %s: no workflow state for its subject",
                    event.id,
                    extra=self._about(event),
                )
                return []
            if event.type == self.source:
                parent_subject = event.data.get(PARENT_SUBJECT_FIELD)
            step = core(StepInput(event, subject, state, parent_subject, init_event_id))
        except ViolationError:
            raise
        except Exception as error:  # noqa: BLE001 - user code: becomes system error events
            return self._fail(
                error,
                event,
                subject,
                state=state,
                parent_subject=parent_subject,
                init_event_id=init_event_id,
            )
        if step.record is not None:
            self._write(event, subject, step.record, state, parent_subject)
            if step.completed and self._cleanup is not None:
                self._clean(event)
        return step.events

    def _fail(
        self,
        error: Exception,
        event: ArvoEvent,
        subject: SubjectContent,
        *,
        state: dict[str, Any] | None,
        parent_subject: str | None,
        init_event_id: str,
    ) -> list[ArvoEvent]:
        _log.error(
            "Workflow %s failed on event %s: %r",
            event.subject,
            event.id,
            error,
            extra=self._about(event),
        )
        record = {
            "executionStatus": "failure",
            "subject": event.subject,
            "parentSubject": parent_subject,
            "initEventId": init_event_id,
            "error": error_payload(error),
        }
        try:
            self.memory.write(
                event.subject, record, state, self._metadata(event, subject, parent_subject)
            )
        except FencingError as exc:
            # Our lease was lost and another holder carries the workflow on: telling the
            # initiator it failed would be false. The broker retries the event instead.
            raise TransactionViolation(
                TransactionCause.WRITE_MACHINE_MEMORY_FAILURE,
                f"Lost the workflow's lock before recording its failure (event id={event.id!r})",
                event,
            ) from exc
        except Exception:  # noqa: BLE001 - any store failure: logged, errors still go out
            # The system error events still tell the initiator; the write's own failure
            # is only worth a log line, as in arvo-event-handler.
            _log.exception(
                "Could not persist the failure record of %s",
                event.subject,
                extra=self._about(event),
            )
        return self._system_errors.events(
            error,
            event=event,
            subject=parent_subject or event.subject,
            to=subject.execution.initiator,
            parentid=init_event_id,
            parent_subject=parent_subject,
        )

    def _lock(self, event: ArvoEvent) -> tuple[bool, Prefetched]:
        """Whether the lock is held, and the state when the memory read it with the lock."""
        if not self.requires_resource_locking:
            return False, _UNREAD
        state: list[Prefetched] = [_UNREAD]

        def lock() -> bool:
            if self._lock_and_read is None:
                return self.memory.lock(event.subject)
            acquired, state[0] = self._lock_and_read(event.subject)
            return acquired

        # The wait is measured here, at the caller, whatever the memory: a traced run
        # gets a "lock workflow" span and the arvo.memory.lock.wait figure.
        telemetry = active_telemetry()
        try:
            acquired = lock() if telemetry is None else telemetry.lock_wait(event, lock)
        except Exception as exc:
            raise TransactionViolation(
                TransactionCause.LOCK_MACHINE_MEMORY_FAILURE,
                f"Error acquiring the lock of the workflow (event id={event.id!r}): {exc!r}",
                event,
            ) from exc
        if not acquired:
            raise TransactionViolation(
                TransactionCause.LOCK_UNACQUIRED,
                f"Lock acquisition denied: the workflow is busy (event id={event.id!r})",
                event,
            )
        return True, state[0]

    def _unlock(self, event: ArvoEvent) -> None:
        try:
            if not self.memory.unlock(event.subject):
                _log.warning(
                    "Unlock of %s was refused (lease expired?)",
                    event.subject,
                    extra=self._about(event),
                )
        except Exception:  # noqa: BLE001 - unlock is best effort; the lease expires
            _log.exception(
                "Unlock of %s failed; its lease will expire",
                event.subject,
                extra=self._about(event),
            )

    def _read(self, event: ArvoEvent) -> dict[str, Any] | None:
        try:
            return self.memory.read(event.subject)
        except Exception as exc:
            raise TransactionViolation(
                TransactionCause.READ_MACHINE_MEMORY_FAILURE,
                f"Error reading the workflow state (event id={event.id!r}): {exc!r}",
                event,
            ) from exc

    def _write(
        self,
        event: ArvoEvent,
        subject: SubjectContent,
        record: dict[str, Any],
        state: dict[str, Any] | None,
        parent_subject: str | None,
    ) -> None:
        try:
            self.memory.write(
                event.subject, record, state, self._metadata(event, subject, parent_subject)
            )
        except Exception as exc:
            raise TransactionViolation(
                TransactionCause.WRITE_MACHINE_MEMORY_FAILURE,
                f"Error writing the workflow state (event id={event.id!r}): {exc!r}",
                event,
            ) from exc

    def _clean(self, event: ArvoEvent) -> None:
        assert self._cleanup is not None
        try:
            self._cleanup(event.subject)
        except Exception:  # noqa: BLE001 - cleanup is best effort
            # The final state is written and the completion must still go out; a
            # leftover record is harmless (later events find a finished workflow).
            _log.exception(
                "Cleanup of finished workflow %s failed", event.subject, extra=self._about(event)
            )

    def _about(self, event: ArvoEvent) -> dict[str, Any]:
        # The extra= fields of a log record about ``event``, handled at this topic.
        return event_log_fields(event, topic=self.source)

    def _metadata(
        self, event: ArvoEvent, subject: SubjectContent, parent_subject: str | None
    ) -> dict[str, Any]:
        return {
            "subject": event.subject,
            "source": self.source,
            "initiator": subject.execution.initiator,
            "parent_subject": parent_subject,
        }


def _parse_subject(event: ArvoEvent) -> SubjectContent:
    try:
        return ArvoOrchestrationSubject.parse(event.subject)
    except ArvoSubjectError as exc:
        raise ExecutionViolation(
            f"Invalid event (id={event.id!r}, type={event.type!r}): the subject is not an "
            f"ArvoOrchestrationSubject: {exc}",
            {"initiatingEvent": event},
        ) from None
