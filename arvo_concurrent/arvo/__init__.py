"""The Arvo model: events, contracts, subjects, factories, violations and domains."""

from __future__ import annotations

from arvo_concurrent.arvo.contract import (
    PARENT_SUBJECT_FIELD,
    AcceptsInfo,
    ArvoContract,
    ArvoContractError,
    ArvoErrorSchema,
    EmitInfo,
    SchemaValidationError,
    SystemErrorInfo,
    VersionedArvoContract,
    create_arvo_contract,
    create_arvo_orchestrator_contract,
    create_simple_arvo_contract,
    decode_data,
    error_path,
    is_schema,
    parse_data,
    parse_dataschema,
)
from arvo_concurrent.arvo.domain import ArvoDomain, resolve_domain
from arvo_concurrent.arvo.event import (
    ARVO_DATA_CONTENT_TYPE,
    RESERVED_EVENT_KEYS,
    ArvoEvent,
    ArvoEventValidationError,
    create_arvo_event,
    create_timestamp,
)
from arvo_concurrent.arvo.event_handler import ArvoEventHandler, create_arvo_event_handler
from arvo_concurrent.arvo.factory import (
    ArvoEventFactory,
    ArvoOrchestratorEventFactory,
    EventOptions,
    create_arvo_event_factory,
    create_arvo_orchestrator_event_factory,
)
from arvo_concurrent.arvo.handler import HandlerConfigError, IArvoEventHandler, SystemErrorSchema
from arvo_concurrent.arvo.ids import (
    ArvoEventIdContent,
    ArvoEventIdError,
    ArvoEventIdSpec,
    create_arvo_event_id,
    parse_arvo_event_id,
)
from arvo_concurrent.arvo.injection import HandlerSignatureError
from arvo_concurrent.arvo.jsonwire import compact_json, js_number
from arvo_concurrent.arvo.machine import (
    ArvoMachine,
    MachineSetup,
    assign,
    emit,
    setup_arvo_machine,
)
from arvo_concurrent.arvo.orchestrator import ArvoOrchestrator, create_arvo_orchestrator
from arvo_concurrent.arvo.resumable import ArvoResumable, create_arvo_resumable
from arvo_concurrent.arvo.subject import (
    ArvoOrchestrationSubject,
    ArvoSubjectError,
    ExecutionContent,
    OrchestratorContent,
    SubjectContent,
)
from arvo_concurrent.arvo.uri import UriError, decode_uri, encode_uri, validate_uri
from arvo_concurrent.arvo.violations import (
    ConfigViolation,
    ContractViolation,
    ExecutionViolation,
    TransactionCause,
    TransactionViolation,
    ViolationError,
    is_transaction_violation_error,
    is_violation_error,
)

__all__ = [
    "ARVO_DATA_CONTENT_TYPE",
    "PARENT_SUBJECT_FIELD",
    "RESERVED_EVENT_KEYS",
    "AcceptsInfo",
    "ArvoContract",
    "ArvoContractError",
    "ArvoDomain",
    "ArvoErrorSchema",
    "ArvoEvent",
    "ArvoEventFactory",
    "ArvoEventHandler",
    "ArvoEventIdContent",
    "ArvoEventIdError",
    "ArvoEventIdSpec",
    "ArvoEventValidationError",
    "ArvoMachine",
    "ArvoOrchestrationSubject",
    "ArvoOrchestrator",
    "ArvoOrchestratorEventFactory",
    "ArvoResumable",
    "ArvoSubjectError",
    "ConfigViolation",
    "ContractViolation",
    "EmitInfo",
    "EventOptions",
    "ExecutionContent",
    "ExecutionViolation",
    "HandlerConfigError",
    "HandlerSignatureError",
    "IArvoEventHandler",
    "MachineSetup",
    "OrchestratorContent",
    "SchemaValidationError",
    "SubjectContent",
    "SystemErrorInfo",
    "SystemErrorSchema",
    "TransactionCause",
    "TransactionViolation",
    "UriError",
    "VersionedArvoContract",
    "ViolationError",
    "assign",
    "compact_json",
    "create_arvo_contract",
    "create_arvo_event",
    "create_arvo_event_factory",
    "create_arvo_event_handler",
    "create_arvo_event_id",
    "create_arvo_orchestrator",
    "create_arvo_orchestrator_contract",
    "create_arvo_orchestrator_event_factory",
    "create_arvo_resumable",
    "create_simple_arvo_contract",
    "create_timestamp",
    "decode_data",
    "decode_uri",
    "emit",
    "encode_uri",
    "error_path",
    "is_schema",
    "is_transaction_violation_error",
    "is_violation_error",
    "js_number",
    "parse_arvo_event_id",
    "parse_data",
    "parse_dataschema",
    "resolve_domain",
    "setup_arvo_machine",
    "validate_uri",
]
