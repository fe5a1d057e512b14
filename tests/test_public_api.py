"""The public surface: one __init__, an explicit __all__, typed and documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import arvo_concurrent

ARCHITECTURE_NAMES = {
    "ArvoEvent",
    "create_arvo_event",
    "create_arvo_contract",
    "create_simple_arvo_contract",
    "create_arvo_orchestrator_contract",
    "create_arvo_event_factory",
    "ArvoOrchestrationSubject",
    "ArvoDomain",
    "ViolationError",
    "ContractViolation",
    "ConfigViolation",
    "ExecutionViolation",
    "TransactionViolation",
    "create_arvo_event_handler",
    "create_arvo_resumable",
    "create_arvo_orchestrator",
    "IArvoEventHandler",
    "IMachineMemory",
    "ConcurrentMachineMemory",
    "ConcurrentEventBroker",
    "create_concurrent_event_broker",
}


def test_every_name_the_architecture_promises_is_exported() -> None:
    assert not ARCHITECTURE_NAMES - set(arvo_concurrent.__all__)


def test_all_is_sorted_unique_and_every_name_exists() -> None:
    names = arvo_concurrent.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(arvo_concurrent, name), name


def test_every_public_class_and_function_is_documented() -> None:
    undocumented = [
        name
        for name in arvo_concurrent.__all__
        if (inspect.isclass(obj := getattr(arvo_concurrent, name)) or inspect.isfunction(obj))
        and not inspect.getdoc(obj)
    ]
    assert undocumented == []


def test_every_library_error_derives_from_the_root() -> None:
    errors = [
        getattr(arvo_concurrent, name)
        for name in arvo_concurrent.__all__
        if name.endswith(("Error", "Violation"))
    ]
    assert errors
    for error in errors:
        assert issubclass(error, arvo_concurrent.ArvoConcurrentError), error


def test_the_package_ships_type_information() -> None:
    assert (Path(arvo_concurrent.__file__).parent / "py.typed").is_file()
