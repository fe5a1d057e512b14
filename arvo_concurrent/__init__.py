"""arvo-concurrent: concurrent in-process infrastructure for Arvo workflows.

The public API follows one rule. Everything of the in-process library is imported
from here (``__all__``). The documented public subpackages are imported by their own
name, and this module imports none of them: :mod:`arvo_concurrent.postgres` (the
PostgreSQL memory), :mod:`arvo_concurrent.observability` (OpenTelemetry traces and
metrics, the log record fields), :mod:`arvo_concurrent.interop` (the CloudEvents SDK)
and :mod:`arvo_concurrent.testing` (a manual clock for tests). Every other subpackage
(``arvo``, ``actors``, ``memory``, ``broker``) and every file inside one is internal and
may change; this module re-exports from those subpackages' ``__init__`` only, never
from their files. Three parts:

* the Arvo model: events (wire-compatible with Arvo's TypeScript JSON), contracts,
  orchestration subjects, handlers, resumables and orchestrators;
* machine memory: per-workflow state with leased, fenced locks
  (:class:`ConcurrentMachineMemory`);
* the broker: per-handler concurrency on Pykka actors, retries, middleware, domained
  events and ``resolve()`` (:func:`create_concurrent_event_broker`).
"""

from __future__ import annotations

import logging

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
from arvo_concurrent.broker import (
    BrokerErrorHandler,
    ConcurrentEventBroker,
    ConcurrentEventBrokerHandle,
    DomainedEventError,
    ErrorDecision,
    EventDroppedError,
    HandlerAbortedError,
    HandlerConfig,
    HandlerCounters,
    HopLimitError,
    IdleTimeoutError,
    MiddlewareError,
    OnErrorAnswerError,
    QueueFullError,
    ResolveError,
    ResolveTimeoutError,
    RetryDecider,
    RetryInfo,
    RoutingError,
    SubscriptionConflictError,
    WaitInHandlerError,
    create_concurrent_event_broker,
)
from arvo_concurrent.errors import (
    ArgumentError,
    ArgumentTypeError,
    ArvoConcurrentError,
    ClosedError,
    MissingExtraError,
    WaitTimeoutError,
)
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
    "ArgumentError",
    "ArgumentTypeError",
    "ArvoConcurrentError",
    "ArvoContract",
    "ArvoContractError",
    "ArvoDomain",
    "ArvoEvent",
    "ArvoEventValidationError",
    "ArvoOrchestrationSubject",
    "ArvoSubjectError",
    "BrokerErrorHandler",
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
    "MemoryConfigError",
    "MemoryTimeoutError",
    "MiddlewareError",
    "MissingExtraError",
    "OnErrorAnswerError",
    "QueueFullError",
    "ResolveError",
    "ResolveTimeoutError",
    "RetryDecider",
    "RetryInfo",
    "RoutingError",
    "SchemaValidationError",
    "SubscriptionConflictError",
    "TransactionCause",
    "TransactionViolation",
    "VersionedArvoContract",
    "ViolationError",
    "WaitInHandlerError",
    "WaitTimeoutError",
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
