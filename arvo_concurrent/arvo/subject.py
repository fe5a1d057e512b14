"""Orchestration subjects: ``base64(zlib(compact JSON content))``, as arvo-core makes them.

A subject names one workflow instance: which orchestrator (and version) runs it, who started it,
in which domain, plus free-form ``meta`` (``redirectto`` says where the completion goes). The
encoded string is byte-identical to arvo-core's ``ArvoOrchestrationSubject``. The JSON content
may be at most :data:`MAX_SUBJECT_CONTENT_BYTES` long, so a small subject cannot inflate into a
huge one. All functions here are pure and thread-safe.
"""

from __future__ import annotations

import base64
import binascii
import uuid
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

import msgspec

from arvo_concurrent.arvo.contract import error_path
from arvo_concurrent.arvo.inflate import inflate
from arvo_concurrent.errors import ArvoConcurrentError

__all__ = [
    "MAX_SUBJECT_CONTENT_BYTES",
    "ArvoOrchestrationSubject",
    "ArvoSubjectError",
    "ExecutionContent",
    "OrchestratorContent",
    "SubjectContent",
]

# msgspec searches these patterns, so each is anchored at both ends; \Z (not $, which also
# matches before a final newline) is the true end of the string.
# A reverse-DNS name of at least 3 segments; it excludes ';' too.
_REVERSE_DNS = r"^[a-z0-9]+(\.[a-z0-9]+)+\.[a-z0-9]+\Z"
_SEMVER = r"^\d+\.\d+\.\d+\Z"

ReverseDnsName = Annotated[str, msgspec.Meta(pattern=_REVERSE_DNS)]
ExecutionId = Annotated[str, msgspec.Meta(min_length=1, pattern=r"^[^;]+\Z")]
SubjectDomain = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9.]+\Z")] | None

MAX_SUBJECT_CONTENT_BYTES = 64 * 1024
"""The longest JSON content a subject may hold (compressed subjects are usually < 1 KiB)."""

# Parsed subjects kept: one per workflow in flight is what a broker needs.
_PARSE_CACHE_SIZE = 4096


class OrchestratorContent(msgspec.Struct, frozen=True):
    """Which orchestrator runs the workflow."""

    name: ReverseDnsName
    version: Annotated[str, msgspec.Meta(pattern=_SEMVER)]


class ExecutionContent(msgspec.Struct, frozen=True):
    """One execution: its id, the source that started it, and its domain (or None)."""

    id: ExecutionId
    initiator: ReverseDnsName
    domain: SubjectDomain


class SubjectContent(msgspec.Struct, frozen=True):
    """The decoded content of an orchestration subject (field order is the wire order)."""

    orchestrator: OrchestratorContent
    execution: ExecutionContent
    meta: dict[str, str]


class ArvoSubjectError(ArvoConcurrentError, ValueError):
    """A subject string that does not parse, or content that cannot make a subject.

    Attributes:
        value: the subject string or content that was rejected.
    """

    def __init__(self, message: str, value: object) -> None:
        super().__init__(message)
        self.value = value


class ArvoOrchestrationSubject:
    """Create, parse and check orchestration subjects (static methods only)."""

    @staticmethod
    def new(
        *,
        orchestrator: str,
        version: str | None,
        initiator: str,
        domain: str | None = None,
        meta: Mapping[str, str] | None = None,
        execution_id: str | None = None,
    ) -> str:
        """A subject for a new root execution.

        Args:
            orchestrator: the orchestrator's event type (reverse-DNS, 3+ segments).
            version: the orchestrator version; None means ``"0.0.0"``.
            initiator: the source that starts the workflow (reverse-DNS, 3+ segments).
            domain: the execution domain, or None.
            meta: free-form string metadata (``redirectto`` routes the completion).
            execution_id: the execution id to use instead of a fresh uuid4 (for tests).

        Raises:
            ArvoSubjectError: a value breaks the content rules; the message names it.
        """
        content = {
            "orchestrator": {"name": orchestrator, "version": version or "0.0.0"},
            "execution": {
                "id": execution_id or str(uuid.uuid4()),
                "initiator": initiator,
                "domain": domain,
            },
            "meta": dict(meta or {}),
        }
        return ArvoOrchestrationSubject.create(content)

    @staticmethod
    def from_(
        *,
        orchestrator: str,
        version: str | None,
        subject: str,
        domain: str | None = None,
        meta: Mapping[str, str] | None = None,
        execution_id: str | None = None,
    ) -> str:
        """A subject for a child execution started by the workflow of ``subject``.

        The initiator is the parent's orchestrator, the domain is ``domain`` or the parent's,
        and ``meta`` is the parent's meta updated with ``meta``.

        Raises:
            ArvoSubjectError: ``subject`` does not parse, or the child content is invalid.
        """
        parent = ArvoOrchestrationSubject.parse(subject)
        return ArvoOrchestrationSubject.new(
            orchestrator=orchestrator,
            version=version,
            initiator=parent.orchestrator.name,
            domain=domain if domain is not None else parent.execution.domain,
            meta={**parent.meta, **(meta or {})},
            execution_id=execution_id,
        )

    @staticmethod
    def create(content: SubjectContent | Mapping[str, Any]) -> str:
        """Encode ``content`` as a subject string, after validating it.

        A mapping is encoded with its own key order (as arvo-core does), so equal content in a
        different key order gives a different string.

        Raises:
            ArvoSubjectError: the content breaks a rule; the message names the field.
        """
        if not isinstance(content, SubjectContent):
            _validated(content)
        try:
            raw = msgspec.json.encode(content)
        except (TypeError, UnicodeEncodeError) as exc:
            raise ArvoSubjectError(
                f"Invalid orchestration subject content: {exc}", content
            ) from None
        if len(raw) > MAX_SUBJECT_CONTENT_BYTES:
            raise ArvoSubjectError(
                f"Invalid orchestration subject content: {len(raw)} bytes of JSON, more than "
                f"MAX_SUBJECT_CONTENT_BYTES ({MAX_SUBJECT_CONTENT_BYTES})",
                content,
            )
        return base64.b64encode(zlib.compress(raw)).decode("ascii")

    @staticmethod
    def parse(subject: str) -> SubjectContent:
        """Decode and validate a subject string.

        Subjects are immutable strings and every step of a workflow parses its subject, so
        answers are cached (bounded): equal subjects give the same, shared content object,
        which callers must not mutate (its ``meta`` dict included).

        Raises:
            ArvoSubjectError: ``"Error parsing orchestration subject string ..."`` naming the
                subject and the reason (which includes content that inflates past
                :data:`MAX_SUBJECT_CONTENT_BYTES`).
        """
        try:
            return _parse(subject)
        except (binascii.Error, msgspec.DecodeError, ValueError, TypeError) as exc:
            raise ArvoSubjectError(
                f"Error parsing orchestration subject string (subject={subject!r}): {exc}",
                subject,
            ) from None

    @staticmethod
    def is_valid(subject: str) -> bool:
        """True when ``subject`` parses as an orchestration subject."""
        try:
            ArvoOrchestrationSubject.parse(subject)
        except ArvoSubjectError:
            return False
        return True


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse(subject: str) -> SubjectContent:
    # Failures raise and are therefore not cached; an unhashable subject raises TypeError.
    raw = inflate(base64.b64decode(subject, validate=True), MAX_SUBJECT_CONTENT_BYTES)
    return msgspec.json.decode(raw, type=SubjectContent)


def _validated(content: Mapping[str, Any]) -> SubjectContent:
    try:
        return msgspec.convert(content, SubjectContent)
    except msgspec.ValidationError as exc:
        path = error_path(exc)
        value = _value_at(content, path)
        hint = ""
        if path == "$.execution.initiator":
            hint = "Orchestration initiator should be prefixed with a reverse-DNS name. "
        raise ArvoSubjectError(
            f"Invalid orchestration subject content at {path} (value={value!r}): {hint}{exc}",
            content,
        ) from None


def _value_at(content: Mapping[str, Any], path: str) -> object:
    """The value at a msgspec path like ``$.execution.id`` (None when it is not there)."""
    value: object = content
    for key in path.split(".")[1:]:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
