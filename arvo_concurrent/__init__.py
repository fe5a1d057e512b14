"""arvo-concurrent: concurrent in-process infrastructure for Arvo workflows.

Everything users need is imported from here; the subpackages are internal and may
change. Three parts:

* the Arvo model: events (wire-compatible with Arvo's TypeScript JSON), contracts,
  orchestration subjects, handlers, resumables and orchestrators;
* machine memory: per-workflow state with leased, fenced locks
  (:class:`ConcurrentMachineMemory`);
* the broker: per-handler concurrency on Pykka actors, retries, middleware, domained
  events and ``resolve()`` (:func:`create_concurrent_event_broker`).

Optional parts, each a documented public subpackage that this module never imports:
``arvo_concurrent.postgres`` (the PostgreSQL memory), ``arvo_concurrent.observability``
(OpenTelemetry traces and metrics, the log record fields) and ``arvo_concurrent.interop``
(the CloudEvents SDK).
"""

from __future__ import annotations

import logging

from arvo_concurrent.actors.scheduler import ManualScheduler
from arvo_concurrent.arvo import (
    ARVO_DATA_CONTENT_TYPE,
    ArvoContract,
    ArvoContractError,
    ArvoDomain,
    ArvoEvent,
    ArvoEventValidationError,
    ArvoOrchestrationSubject,
    ArvoSubjectError,
    ConfigViolation,
    ContractViolation,
    ExecutionViolation,
    HandlerConfigError,
    HandlerSignatureError,
    IArvoEventHandler,
    SchemaValidationError,
    TransactionCause,
    TransactionViolation,
    VersionedArvoContract,
    ViolationError,
    assign,
    create_arvo_contract,
    create_arvo_event,
    create_arvo_event_factory,
    create_arvo_event_handler,
    create_arvo_orchestrator,
    create_arvo_orchestrator_contract,
    create_arvo_resumable,
    create_simple_arvo_contract,
    emit,
    setup_arvo_machine,
)
from arvo_concurrent.broker.broker import ConcurrentEventBroker
from arvo_concurrent.broker.config import HandlerConfig
from arvo_concurrent.broker.errors import (
    DomainedEventError,
    EventDroppedError,
    HandlerAbortedError,
    HopLimitError,
    IdleTimeoutError,
    QueueFullError,
    ResolveError,
    ResolveTimeoutError,
    RoutingError,
    SubscriptionConflictError,
    WaitInHandlerError,
)
from arvo_concurrent.broker.factory import (
    ConcurrentEventBrokerHandle,
    create_concurrent_event_broker,
)
from arvo_concurrent.broker.middleware import MiddlewareError
from arvo_concurrent.broker.pipeline import HandlerCounters
from arvo_concurrent.broker.retry import ErrorDecision, OnErrorAnswerError, RetryInfo
from arvo_concurrent.errors import ArvoConcurrentError, ClosedError, MissingExtraError
from arvo_concurrent.memory import (
    ConcurrentMachineMemory,
    FencingError,
    IMachineMemory,
    MachineIdError,
    MemoryConfigError,
    MemoryTimeoutError,
)

# A library never configures logging; this keeps "No handler found" noise away.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ARVO_DATA_CONTENT_TYPE",
    "ArvoConcurrentError",
    "ArvoContract",
    "ArvoContractError",
    "ArvoDomain",
    "ArvoEvent",
    "ArvoEventValidationError",
    "ArvoOrchestrationSubject",
    "ArvoSubjectError",
    "ClosedError",
    "ConcurrentEventBroker",
    "ConcurrentEventBrokerHandle",
    "ConcurrentMachineMemory",
    "ConfigViolation",
    "ContractViolation",
    "DomainedEventError",
    "ErrorDecision",
    "EventDroppedError",
    "ExecutionViolation",
    "FencingError",
    "HandlerAbortedError",
    "HandlerConfig",
    "HandlerConfigError",
    "HandlerCounters",
    "HandlerSignatureError",
    "HopLimitError",
    "IArvoEventHandler",
    "IMachineMemory",
    "IdleTimeoutError",
    "MachineIdError",
    "ManualScheduler",
    "MemoryConfigError",
    "MemoryTimeoutError",
    "MiddlewareError",
    "MissingExtraError",
    "OnErrorAnswerError",
    "QueueFullError",
    "ResolveError",
    "ResolveTimeoutError",
    "RetryInfo",
    "RoutingError",
    "SchemaValidationError",
    "SubscriptionConflictError",
    "TransactionCause",
    "TransactionViolation",
    "VersionedArvoContract",
    "ViolationError",
    "WaitInHandlerError",
    "assign",
    "create_arvo_contract",
    "create_arvo_event",
    "create_arvo_event_factory",
    "create_arvo_event_handler",
    "create_arvo_orchestrator",
    "create_arvo_orchestrator_contract",
    "create_arvo_resumable",
    "create_concurrent_event_broker",
    "create_simple_arvo_contract",
    "emit",
    "setup_arvo_machine",
]
